#pragma once
// Where a tensor's memory lives. Only the CPU exists today; the type is here so
// that a second backend is an addition (a Device value, its allocator and
// kernels) rather than a rewrite, and ops already refuse to mix devices.
#include <cstdint>
#include <initializer_list>

namespace nabla {

enum class Device : uint8_t { cpu };

/// "cpu".
const char* device_name(Device d);

class Tensor;

/// Throws nabla::Error naming `op` and the devices when the defined tensors
/// among `ts` are not all on one device.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);

}  // namespace nabla
