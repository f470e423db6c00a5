// Counts the bytes libtorch holds in CPU tensors, so that a JS handle can tell V8 how much native memory hangs
// off it: a forward pass's result keeps its whole autograd graph (the saved activations) alive, often 1000x the
// size of the result itself.
#pragma once

#include <cstdint>

namespace lt {

// Replaces libtorch's CPU allocator with a counting wrapper around it (same alignment, same allocation calls).
void InstallCountingAllocator();

// Bytes currently allocated by libtorch on the CPU, all threads together.
int64_t CpuBytesInUse();

}  // namespace lt
