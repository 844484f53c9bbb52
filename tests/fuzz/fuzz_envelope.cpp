// SPDX-License-Identifier: GPL-2.0
// placeholder: being written
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t * /*data*/, std::size_t /*size*/) { return 0; }
