#include "aat/device_group.hpp"

#include <exception>
#include <optional>
#include <thread>

#include <fmt/format.h>

namespace aat {

Expected<DeviceGroup> DeviceGroup::create(std::span<const std::string> selectors, const ContextOptions& base) {
  if (selectors.empty()) return fail(ErrorCode::invalid_argument, "a device group needs at least one device");
  std::vector<std::shared_ptr<Context>> contexts;
  for (std::size_t i = 0; i < selectors.size(); ++i) {
    ContextOptions options = base;
    options.device = selectors[i];
    auto context = Context::create(options);
    if (!context) return forward(std::move(context), fmt::format("device {} of the list ({})", i, selectors[i]));
    contexts.push_back(std::move(*context));
  }
  return from_contexts(std::move(contexts));
}

Expected<DeviceGroup> DeviceGroup::from_contexts(std::vector<std::shared_ptr<Context>> contexts) {
  if (contexts.empty()) return fail(ErrorCode::invalid_argument, "a device group needs at least one device");
  for (std::size_t i = 0; i < contexts.size(); ++i)
    if (!contexts[i]) return fail(ErrorCode::invalid_argument, fmt::format("device group: context {} is null", i));
  DeviceGroup group;
  group.contexts_ = std::move(contexts);
  return group;
}

Expected<void> DeviceGroup::run_each(const Work& work) const {
  std::vector<std::optional<Error>> errors(contexts_.size());
  {
    std::vector<std::jthread> threads;
    threads.reserve(contexts_.size());
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          if (auto done = work(i); !done) errors[i] = std::move(done.error());
        } catch (const std::exception& e) {
          errors[i] = Error(ErrorCode::internal, fmt::format("exception: {}", e.what()));
        } catch (...) {
          errors[i] = Error(ErrorCode::internal, "an exception that is not a std::exception");
        }
      });
    }
  }  // joined
  for (std::size_t i = 0; i < errors.size(); ++i)
    if (errors[i])
      return std::unexpected(std::move(*errors[i]).with_context(
          fmt::format("device {} ({})", i, contexts_[i]->device().name)));
  return {};
}

std::string DeviceGroup::describe() const {
  std::string text;
  for (const auto& c : contexts_)
    text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", c->device().index, c->device().name);
  return text;
}

Expected<std::vector<std::string>> parse_device_list(std::string_view list) {
  std::vector<std::string> entries;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    const std::string_view entry = list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
    if (entry.empty())
      return fail(ErrorCode::invalid_argument,
                  fmt::format("device list '{}' has an empty entry; write indices or names separated by commas, "
                              "e.g. 0,1", list));
    entries.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return entries;
}

}  // namespace aat
