// safetensors: header JSON, dtypes, shapes and offsets; every tensor read as floats.
#include "convert/safetensors_reader.h"
#include "fuzz_input.h"
#include "tern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = tern::fuzz::write_file("model.safetensors", tern::fuzz::as_text(data, size));
  try {
    const auto file = tern::SafetensorsFile::open(path);
    for (const auto& [name, tensor] : file.tensors()) {
      try {
        (void)tensor.to_floats(file.name());
      } catch (const tern::Error&) {  // e.g. an integer dtype: the other tensors still run
      }
    }
  } catch (const tern::Error&) {}
  return 0;
}
