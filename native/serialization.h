// torch.save / torch.load, the native half: PyTorch's zip container (written and read by libtorch's own
// PyTorchStreamWriter / PyTorchStreamReader, the format of torch.save since PyTorch 1.6) off the main thread, and the
// tensors on either side of it.
//
// The pickle inside the container (data.pkl) is written and read in TypeScript (lib/pickle.ts), not by libtorch's
// torch::pickle_save / torch::pickle_load: pickle_save tags every dict with torch.jit._pickle.restore_type_tag, a
// global that PyTorch 2's torch.load (weights_only=True by default) refuses, and pickle_load cannot read the
// collections.OrderedDict that Python's state_dict() is saved as ("Expected GenericDict but got None").
#pragma once

#include <napi.h>

namespace lt {

void InitSerialization(Napi::Env env, Napi::Object exports);

}  // namespace lt
