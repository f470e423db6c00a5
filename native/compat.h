// Differences between the libtorch versions we build against: Debian's 1.13 (the default) and the 2.x inside a
// Python torch (how CUDA hosts usually have it).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <variant>

namespace lt {

// libtorch's options hold c10::variant (1.13) or std::variant (2.x): std::get_if is found for the latter and,
// by argument-dependent lookup, c10::get_if for the former.
template <typename T, typename Variant>
auto GetIf(Variant* v) {
  using std::get_if;
  return get_if<T>(v);
}

}  // namespace lt
