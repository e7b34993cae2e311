#include "aat/attention/input_files.hpp"

#include "aat/tensor_npy.hpp"

namespace aat::attention {

Expected<InputTensors> read_input_files(const std::shared_ptr<Context>& context, const InputFiles& files,
                                        Progress& progress) {
  InputTensors in;
  const bool with_v = !files.v.empty();
  progress.stage(with_v ? "reading q, k, v" : "reading q, k", with_v ? 3 : 2);
  AAT_TRY(in.q, read_npy_tensor(context, files.q));
  progress.advance(1);
  AAT_TRY(in.k, read_npy_tensor(context, files.k));
  progress.advance(2);
  if (with_v) {
    AAT_TRY(in.v, read_npy_tensor(context, files.v));
    progress.advance(3);
  }
  if (!files.key_lengths.empty()) {
    AAT_TRY(in.key_lengths, read_npy_tensor(context, files.key_lengths));
  }
  return in;
}

}  // namespace aat::attention
