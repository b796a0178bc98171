// GGUF: parse, load as a model, run one forward token and a tokenizer round trip.
#include "fuzz_input.h"
#include "io/gguf_reader.h"
#include "tern/error.h"
#include "tern/model.h"
#include "tern/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = tern::fuzz::write_file("model.gguf", tern::fuzz::as_text(data, size));
  try {
    const auto file = tern::GgufFile::open(path);
    (void)file.metadata().size();
    tern::LoadOptions options;
    options.threads = 1;
    const auto model = tern::Model::load(path, options);
    (void)model.summary();
    tern::Context context(model, 4, 1);
    const auto logits = context.decode(model.tokenizer().bos() >= 0 ? model.tokenizer().bos() : 0);
    (void)logits;
    (void)model.tokenizer().decode(model.tokenizer().encode("Hi there", true));
  } catch (const tern::Error&) {}
  return 0;
}
