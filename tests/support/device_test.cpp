#include "device_test.hpp"

#include <cstdlib>

namespace aat::testing {

std::shared_ptr<Context> shared_context() {
  // Function-local static: one device per test process, created lazily, torn down at exit.
  static std::shared_ptr<Context> context = [] {
    ContextOptions options;
    options.validation = true;
    auto created = Context::create(options);
    if (!created) {
      std::fprintf(stderr, "cannot create the test context: %s\n", created.error().what().c_str());
      std::abort();
    }
    return *created;
  }();
  return context;
}

void DeviceTest::SetUp() {
  context_ = shared_context();
  context_->take_validation_messages();
}

void DeviceTest::TearDown() {
  const auto messages = context_->take_validation_messages();
  for (const auto& m : messages) ADD_FAILURE() << m;
}

Spirv DeviceTest::compile(const std::string& source, const std::string& name, const CompileOptions& options) {
  ShaderCompiler compiler(context_->cache_dir());
  return unwrap(compiler.compile(source, name, options), "compiling test shader");
}

}  // namespace aat::testing
