// A Hugging Face folder: the input is config.json, tokenizer.json and model.safetensors
// joined by "@@@@" (tests/fuzz/make_corpus.py writes seeds that way); the draft is
// planned and encoded to GGUF in memory, as tern convert does.
#include "convert/draft_writer.h"
#include "convert/hf_checkpoint.h"
#include "fuzz_input.h"
#include "tern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tern::fuzz::part;
  const auto all = tern::fuzz::as_text(data, size);
  const auto dir = tern::fuzz::scratch_dir() / "hf";
  std::filesystem::create_directories(dir);
  tern::fuzz::write_file("hf/config.json", part(all, 0));
  tern::fuzz::write_file("hf/tokenizer.json", part(all, 1));
  tern::fuzz::write_file("hf/model.safetensors", part(all, 2));
  try {
    auto result = tern::read_hf_checkpoint(dir, {});
    tern::DraftWriteOptions options;
    options.ternary_type = tern::TensorType::TERN2;
    const auto plan = tern::plan_tensors(result.draft, options);
    (void)tern::draft_to_gguf(result.draft, plan, options).file_size();
  } catch (const tern::Error&) {}
  return 0;
}
