// bitllama2.c checkpoints (ak42): header sizes against the file, 2-bit codes.
#include "convert/bitllama2c_reader.h"
#include "fuzz_input.h"
#include "tern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = tern::fuzz::write_file("model.bin", tern::fuzz::as_text(data, size));
  try {
    (void)tern::read_bitllama2c(path);
  } catch (const tern::Error&) {}
  return 0;
}
