#include "device_test.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace aat::testing {

namespace {

// The shared test context and the log its validation messages are copied into.
struct Shared {
  std::mutex mutex;
  std::shared_ptr<ValidationLog> log = std::make_shared<ValidationLog>();
  std::shared_ptr<Context> context;
};

Shared& shared() {
  static Shared instance;
  return instance;
}

// After the last test: the shared context must be the last reference to its device, and its
// teardown must be silent. Registered by this file's static initialiser, so every test binary
// that uses the shared context (and links this file for it) checks it.
class ContextTeardownCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    std::shared_ptr<Context> context;
    {
      std::lock_guard lock(shared().mutex);
      context = std::move(shared().context);
    }
    if (!context) return;
    for (const auto& problem : teardown_problems(std::move(context), *shared().log))
      ADD_FAILURE() << "test context teardown: " << problem;
  }
};

[[maybe_unused]] ::testing::Environment* const kTeardownCheck =
    ::testing::AddGlobalTestEnvironment(new ContextTeardownCheck);

}  // namespace

void ValidationLog::add(const std::string& message) {
  std::lock_guard lock(mutex_);
  messages_.push_back(message);
}

std::size_t ValidationLog::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

std::vector<std::string> ValidationLog::since(std::size_t mark) const {
  std::lock_guard lock(mutex_);
  if (mark >= messages_.size()) return {};
  return {messages_.begin() + static_cast<std::ptrdiff_t>(mark), messages_.end()};
}

ContextOptions checked_context_options(const std::shared_ptr<ValidationLog>& log) {
  ContextOptions options;
  options.validation = true;
  // The log outlives the context: the callback owns a reference.
  options.on_validation_message = [log](const std::string& message) { log->add(message); };
  return options;
}

std::vector<std::string> teardown_problems(std::shared_ptr<Context>&& context, const ValidationLog& log) {
  std::vector<std::string> problems;
  for (auto& message : context->take_validation_messages()) problems.push_back("unreported: " + message);
  const std::weak_ptr<ContextState> state = context->shared_state();
  const std::size_t mark = log.size();
  context.reset();
  if (const auto alive = state.lock()) {
    problems.push_back("the device is still alive after the last reference to the context was released: " +
                       std::to_string(alive.use_count() - 1) +
                       " other reference(s) (a Context, Buffer, Tensor, Kernel or Stream was leaked)");
    return problems;
  }
  for (auto& message : log.since(mark)) problems.push_back("reported while tearing down the context: " + message);
  return problems;
}

std::shared_ptr<Context> shared_context() {
  std::lock_guard lock(shared().mutex);
  if (!shared().context) {
    auto created = Context::create(checked_context_options(shared().log));
    if (!created) {
      std::fprintf(stderr, "cannot create the test context: %s\n", created.error().what().c_str());
      std::abort();
    }
    shared().context = std::move(*created);
  }
  return shared().context;
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
