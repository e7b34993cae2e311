#include "spirv_interface.hpp"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include <spirv-tools/libspirv.h>

namespace aat::detail {

namespace {

constexpr std::uint32_t kOpCapability = 17;
constexpr std::uint32_t kOpFunction = 54;
constexpr std::uint32_t kOpFunctionEnd = 56;
constexpr std::uint32_t kOpLabel = 248;
constexpr std::uint32_t kOpReturn = 253;
constexpr std::uint32_t kOpEntryPoint = 15;
constexpr std::uint32_t kOpTypeCooperativeMatrixNV = 5358;
constexpr std::uint32_t kOpTypeCooperativeMatrixKHR = 4456;
constexpr std::uint32_t kCapabilityCooperativeMatrixNV = 5357;
constexpr std::uint32_t kCapabilityCooperativeMatrixKHR = 6022;

struct Instruction {
  std::uint32_t opcode = 0;
  std::uint32_t result = 0;
  std::vector<std::uint32_t> words;
  std::vector<std::uint32_t> ids;  // every operand that is an id (not a literal)
};

struct Parsed {
  std::uint32_t bound = 0;
  std::vector<std::uint32_t> header;
  std::vector<Instruction> instructions;
};

bool is_id_operand(spv_operand_type_t type) {
  return type == SPV_OPERAND_TYPE_ID || type == SPV_OPERAND_TYPE_TYPE_ID || type == SPV_OPERAND_TYPE_RESULT_ID ||
         type == SPV_OPERAND_TYPE_MEMORY_SEMANTICS_ID || type == SPV_OPERAND_TYPE_SCOPE_ID;
}

spv_result_t on_header(void* user, spv_endianness_t, uint32_t magic, uint32_t version, uint32_t generator,
                       uint32_t bound, uint32_t schema) {
  auto* parsed = static_cast<Parsed*>(user);
  parsed->bound = bound;
  parsed->header = {magic, version, generator, bound, schema};
  return SPV_SUCCESS;
}

spv_result_t on_instruction(void* user, const spv_parsed_instruction_t* inst) {
  auto* parsed = static_cast<Parsed*>(user);
  Instruction out;
  out.opcode = inst->opcode;
  out.result = inst->result_id;
  out.words.assign(inst->words, inst->words + inst->num_words);
  for (std::uint16_t i = 0; i < inst->num_operands; ++i) {
    const auto& operand = inst->operands[i];
    if (is_id_operand(operand.type) && operand.type != SPV_OPERAND_TYPE_RESULT_ID)
      out.ids.push_back(inst->words[operand.offset]);
  }
  parsed->instructions.push_back(std::move(out));
  return SPV_SUCCESS;
}

}  // namespace

bool needs_interface_reduction(std::span<const std::uint32_t> spirv) {
  // Capabilities come first after the 5-word header; a cheap scan is enough.
  for (std::size_t i = 5; i < spirv.size();) {
    const std::uint32_t count = spirv[i] >> 16, opcode = spirv[i] & 0xffff;
    if (count == 0) return false;
    if (opcode != kOpCapability) return false;
    if (i + 1 < spirv.size() &&
        (spirv[i + 1] == kCapabilityCooperativeMatrixNV || spirv[i + 1] == kCapabilityCooperativeMatrixKHR))
      return true;
    i += count;
  }
  return false;
}

Expected<Spirv> interface_only(std::span<const std::uint32_t> spirv) {
  Parsed parsed;
  spv_context context = spvContextCreate(SPV_ENV_VULKAN_1_3);
  const spv_result_t status =
      spvBinaryParse(context, &parsed, spirv.data(), spirv.size(), &on_header, &on_instruction, nullptr);
  spvContextDestroy(context);
  if (status != SPV_SUCCESS) return fail(ErrorCode::parse, "cannot parse the SPIR-V module for reflection");

  std::uint32_t entry = 0;
  for (const auto& inst : parsed.instructions)
    if (inst.opcode == kOpEntryPoint && inst.words.size() > 2) entry = inst.words[2];

  // Ids defined inside function bodies disappear with the bodies; so does every global
  // instruction naming one of them or depending on a cooperative-matrix type.
  std::unordered_set<std::uint32_t> removed;
  bool in_function = false;
  for (const auto& inst : parsed.instructions) {
    if (inst.opcode == kOpFunction) in_function = true;
    if (in_function && inst.result && !(inst.opcode == kOpFunction && inst.result == entry)) removed.insert(inst.result);
    if (inst.opcode == kOpFunctionEnd) in_function = false;
  }

  Spirv out = parsed.header;
  const std::uint32_t label = parsed.bound;  // a fresh id for the emptied entry point's block
  out[3] = parsed.bound + 1;
  in_function = false;
  for (const auto& inst : parsed.instructions) {
    if (inst.opcode == kOpFunction) {
      in_function = true;
      if (inst.result == entry) {
        out.insert(out.end(), inst.words.begin(), inst.words.end());
        out.insert(out.end(), {(2u << 16) | kOpLabel, label, (1u << 16) | kOpReturn, (1u << 16) | kOpFunctionEnd});
      }
      continue;
    }
    if (in_function) {
      if (inst.opcode == kOpFunctionEnd) in_function = false;
      continue;
    }
    const bool dependent = inst.opcode == kOpTypeCooperativeMatrixNV || inst.opcode == kOpTypeCooperativeMatrixKHR ||
                           std::any_of(inst.ids.begin(), inst.ids.end(), [&](std::uint32_t id) {
                             return removed.contains(id);
                           });
    if (dependent) {
      if (inst.result) removed.insert(inst.result);
      continue;
    }
    out.insert(out.end(), inst.words.begin(), inst.words.end());
  }
  return out;
}

}  // namespace aat::detail
