// A plugin whose commands and ops misbehave through the C ABI: commands and an op that throw C++
// exceptions, and an op whose plan describes its output against its own rule. The host must
// report each failure (aat run: exit code 1 and the message), never crash or trust the plugin
// (tests/test_faults.cpp, tests/cli/test_cli_faults.sh).
#include <cstring>
#include <stdexcept>

#include "aat/plugin_abi.h"

namespace {

int throw_std(const aat_host*, int, const char* const*) {
  throw std::runtime_error("the throwing test plugin threw on purpose");
}

int throw_other(const aat_host*, int, const char* const*) { throw 42; }

const aat_plugin_command kCommands[] = {{"throw-std", "throws std::runtime_error", &throw_std},
                                        {"throw-other", "throws an int", &throw_other}};

// Both ops: one f32 input 'x' and one f32 output 'y'.
const aat_op_tensor_info kTensors[] = {{"x", "input", AAT_OP_INPUT, 0, AAT_OP_F32, -1},
                                       {"y", "output", AAT_OP_OUTPUT, 0, AAT_OP_F32, -1}};

int plan_throws(const aat_plugin_op*, aat_op_context*, aat_op_tensor_desc*, const aat_op_value*, void**,
                uint32_t*, aat_op_error*) {
  throw std::runtime_error("the throwing op's plan threw on purpose");
}

// Describes y as i32, which its rule (f32) does not allow.
int plan_bad_output(const aat_plugin_op*, aat_op_context*, aat_op_tensor_desc* tensors, const aat_op_value*,
                    void** plan, uint32_t* flags, aat_op_error*) {
  tensors[1] = tensors[0];
  tensors[1].dtype = AAT_OP_I32;
  *plan = nullptr;
  *flags = 0;
  return 0;
}

int record_nothing(const aat_plugin_op*, void*, aat_op_stream*, aat_op_tensor* const*, aat_op_error*) { return 0; }
void destroy_nothing(const aat_plugin_op*, void*) {}

const aat_plugin_op kOps[] = {
    {"throw-in-plan", "an op whose plan throws", kTensors, 2, nullptr, 0, nullptr, &plan_throws, &record_nothing,
     nullptr, nullptr, &destroy_nothing},
    {"bad-output", "an op whose plan breaks its own output rule", kTensors, 2, nullptr, 0, nullptr, &plan_bad_output,
     &record_nothing, nullptr, nullptr, &destroy_nothing},
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const aat_plugin_descriptor* aat_plugin_entry(void) {
  static const aat_plugin_descriptor descriptor = [] {
    aat_plugin_descriptor d{};
    d.abi_version = AAT_PLUGIN_ABI_VERSION;
    d.descriptor_size = sizeof(aat_plugin_descriptor);
    d.name = "throws";
    d.version = "0";
    d.description = "commands and ops that misbehave";
    d.commands = kCommands;
    d.command_count = 2;
    d.ops = kOps;
    d.op_count = 2;
    return d;
  }();
  return &descriptor;
}
