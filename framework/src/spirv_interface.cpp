#include "spirv_interface.hpp"

#include "spirv_words.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <spirv-tools/libspirv.h>

namespace aat::detail {

namespace {

using namespace spirv;  // NOLINT(google-build-using-namespace): the opcode names of spirv_words.hpp

// Global instructions Debian 12's tools cannot parse: their result ids are what depends on them.
constexpr std::array<std::uint32_t, 4> kUnknownTypes = {
    kOpTypeCooperativeMatrixKHR,
    kOpTypeCooperativeMatrixNV,
    5370,  // OpTypeTensorLayoutNV
    5371,  // OpTypeTensorViewNV
};
constexpr std::array<std::uint32_t, 2> kUnknownConstants = {
    4461,  // OpConstantCompositeReplicateEXT
    4462,  // OpSpecConstantCompositeReplicateEXT
};
// Capabilities of cooperative matrices and their companions.
constexpr std::array<std::uint32_t, 9> kCooperativeCapabilities = {
    5357,                          // CooperativeMatrixNV (SPIRV-Tools knows it, SPIRV-Cross does not)
    6022,                          // CooperativeMatrixKHR
    5430, 5431, 5432, 5433, 5434,  // CooperativeMatrix{Reductions,Conversions,PerElementOperations,TensorAddressing,BlockLoads}NV
    5439,                          // TensorAddressingNV
    6024,                          // ReplicatedCompositesEXT
};
// Of those, the ones SPIRV-Tools 2023.1 itself cannot parse.
constexpr std::array<std::uint32_t, 8> kBeyondValidatorCapabilities = {6022, 5430, 5431, 5432, 5433, 5434, 5439, 6024};
constexpr std::array<std::string_view, 5> kCooperativeExtensions = {
    "SPV_NV_cooperative_matrix", "SPV_KHR_cooperative_matrix", "SPV_NV_cooperative_matrix2",
    "SPV_NV_tensor_addressing", "SPV_EXT_replicated_composites"};

template <std::size_t N>
bool contains(const std::array<std::uint32_t, N>& set, std::uint32_t value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

// The nul-terminated literal string starting at word `first` of an instruction.
std::string literal_string(std::span<const std::uint32_t> words, std::size_t first) {
  std::string text;
  for (std::size_t i = first; i < words.size(); ++i) {
    char bytes[4];
    std::memcpy(bytes, &words[i], 4);
    for (char c : bytes) {
      if (c == '\0') return text;
      text += c;
    }
  }
  return text;
}

bool declares_capability_in(std::span<const std::uint32_t> spirv, std::span<const std::uint32_t> set) {
  bool found = false;
  // Capabilities come first after the header.
  for_each_instruction(spirv, [&](std::uint32_t opcode, std::span<const std::uint32_t> words) {
    if (opcode != kOpCapability) return false;
    if (words.size() > 1 && std::find(set.begin(), set.end(), words[1]) != set.end()) found = true;
    return !found;
  });
  return found;
}

// Step 1, by word counts only: the global section without the instructions step 2 could not
// parse, and of the functions only the entry point, emptied.
struct RawReduction {
  Spirv module;
  std::unordered_set<std::uint32_t> removed;  // results of the instructions cut out
};

Expected<RawReduction> cut_unknown_and_bodies(std::span<const std::uint32_t> spirv) {
  RawReduction out;
  out.module.assign(spirv.begin(), spirv.begin() + kHeaderWords);
  const std::uint32_t bound = spirv[3];
  std::uint32_t entry = 0;
  bool in_functions = false, entry_emitted = false;
  for_each_instruction(spirv, [&](std::uint32_t opcode, std::span<const std::uint32_t> words) {
    if (opcode == kOpFunction) in_functions = true;
    if (in_functions) {
      if (opcode == kOpFunction && words.size() > 2 && words[2] == entry && !entry_emitted) {
        out.module.insert(out.module.end(), words.begin(), words.end());
        out.module.insert(out.module.end(), {(2u << 16) | kOpLabel, bound, (1u << 16) | kOpReturn,
                                             (1u << 16) | kOpFunctionEnd});
        entry_emitted = true;
      }
      return true;
    }
    if (opcode == kOpEntryPoint && words.size() > 2) entry = words[2];
    if (opcode == kOpCapability && words.size() > 1 && contains(kCooperativeCapabilities, words[1])) return true;
    if (opcode == kOpExtension) {
      const std::string name = literal_string(words, 1);
      if (std::find(kCooperativeExtensions.begin(), kCooperativeExtensions.end(), name) != kCooperativeExtensions.end())
        return true;
    }
    if (contains(kUnknownTypes, opcode) && words.size() > 1) {
      out.removed.insert(words[1]);
      return true;
    }
    if (contains(kUnknownConstants, opcode) && words.size() > 2) {
      out.removed.insert(words[2]);
      return true;
    }
    out.module.insert(out.module.end(), words.begin(), words.end());
    return true;
  });
  if (!entry_emitted) return fail(ErrorCode::reflection, "the SPIR-V module has no function for its entry point");
  out.module[3] = bound + 1;  // the emptied entry point's label
  return out;
}

struct Instruction {
  std::uint32_t result = 0;
  std::vector<std::uint32_t> words;
  std::vector<std::uint32_t> ids;  // every operand that is an id (not a literal), result excluded
};

bool is_id_operand(spv_operand_type_t type) {
  return type == SPV_OPERAND_TYPE_ID || type == SPV_OPERAND_TYPE_TYPE_ID || type == SPV_OPERAND_TYPE_MEMORY_SEMANTICS_ID ||
         type == SPV_OPERAND_TYPE_SCOPE_ID;
}

spv_result_t on_instruction(void* user, const spv_parsed_instruction_t* inst) {
  auto* parsed = static_cast<std::vector<Instruction>*>(user);
  Instruction out;
  out.result = inst->result_id;
  out.words.assign(inst->words, inst->words + inst->num_words);
  for (std::uint16_t i = 0; i < inst->num_operands; ++i) {
    const auto& operand = inst->operands[i];
    if (is_id_operand(operand.type)) out.ids.push_back(inst->words[operand.offset]);
  }
  parsed->push_back(std::move(out));
  return SPV_SUCCESS;
}

}  // namespace

bool needs_interface_reduction(std::span<const std::uint32_t> spirv) {
  return declares_capability_in(spirv, kCooperativeCapabilities);
}

bool beyond_validator(std::span<const std::uint32_t> spirv) {
  return declares_capability_in(spirv, kBeyondValidatorCapabilities);
}

Expected<void> check_instruction_stream(std::span<const std::uint32_t> spirv, std::string_view what) {
  if (spirv.size() < kHeaderWords || spirv[3] == 0)
    return fail(ErrorCode::parse, fmt::format("'{}' is not SPIR-V: the header is incomplete or its id bound is 0", what));
  for (std::size_t i = kHeaderWords; i < spirv.size();) {
    const std::uint32_t count = spirv[i] >> 16;
    if (count == 0 || i + count > spirv.size())
      return fail(ErrorCode::parse, fmt::format("'{}' is not valid SPIR-V: the instruction at word {} has word count {}, "
                                                "which {}", what, i, count,
                                                count == 0 ? "is zero" : "runs past the end of the module"));
    i += count;
  }
  return {};
}

Expected<Spirv> interface_only(std::span<const std::uint32_t> spirv) {
  AAT_CHECK(check_instruction_stream(spirv, "shader"));
  AAT_TRY(RawReduction raw, cut_unknown_and_bodies(spirv));

  // Step 2, with the grammar: drop every instruction that names an id that is gone (cut in
  // step 1, or defined only inside a function body), repeatedly, since a dropped definition
  // takes its users with it.
  std::vector<Instruction> parsed;
  spv_context context = spvContextCreate(SPV_ENV_VULKAN_1_3);
  const spv_result_t status = spvBinaryParse(context, &parsed, raw.module.data(), raw.module.size(), nullptr,
                                             &on_instruction, nullptr);
  spvContextDestroy(context);
  if (status != SPV_SUCCESS) return fail(ErrorCode::reflection, "cannot parse the SPIR-V module's interface for reflection");

  std::unordered_set<std::uint32_t> defined;
  for (const auto& inst : parsed)
    if (inst.result) defined.insert(inst.result);
  std::vector<bool> keep(parsed.size(), true);
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      if (!keep[i]) continue;
      const bool dangling = std::any_of(parsed[i].ids.begin(), parsed[i].ids.end(), [&](std::uint32_t id) {
        return raw.removed.contains(id) || !defined.contains(id);
      });
      if (!dangling) continue;
      keep[i] = false;
      changed = true;
      if (parsed[i].result) defined.erase(parsed[i].result);
    }
  }
  Spirv out(raw.module.begin(), raw.module.begin() + kHeaderWords);
  for (std::size_t i = 0; i < parsed.size(); ++i)
    if (keep[i]) out.insert(out.end(), parsed[i].words.begin(), parsed[i].words.end());
  return out;
}

}  // namespace aat::detail
