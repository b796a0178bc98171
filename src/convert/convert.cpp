#include "convert/convert.h"

#include <cstring>
#include <fstream>

#include "convert/bitllama2c_reader.h"
#include "convert/gguf_source.h"
#include "convert/hf_checkpoint.h"
#include "convert/tokenizer_source.h"
#include "tern/error.h"

namespace tern {
namespace {

SourceKind detect_source(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) {
    if (!std::filesystem::exists(path / "config.json"))
      fail("{}: a folder but not a Hugging Face checkpoint (no config.json)", path.string());
    return SourceKind::HuggingFace;
  }
  if (!std::filesystem::exists(path)) fail("{}: no such file or folder", path.string());
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (std::memcmp(magic, "GGUF", 4) == 0) return SourceKind::Gguf;
  if (is_bitllama2c_file(path)) return SourceKind::Bitllama2c;
  fail("{}: unknown source format (expected a GGUF file, a bitllama2.c checkpoint or a Hugging Face folder)",
       path.string());
}

ModelDraft read_source(const ConvertOptions& o, SourceKind kind, ConvertReport& report) {
  switch (kind) {
    case SourceKind::Bitllama2c: {
      if (o.tokenizer.empty())
        fail("{}: bitllama2.c checkpoints carry no tokenizer: pass --tokenizer tokenizer.model (or tokenizer.bin)",
             o.source.string());
      ModelDraft d = read_bitllama2c(o.source);
      d.vocab = load_vocab_file(o.tokenizer, d.config.n_vocab);
      return d;
    }
    case SourceKind::HuggingFace: {
      auto r = read_hf_checkpoint(o.source, o.tokenizer);
      report.post_training_quantized = r.post_training_quantized;
      report.notes = r.notes;
      return std::move(r.draft);
    }
    case SourceKind::Gguf: {
      ModelDraft d = read_gguf_model(o.source);
      if (!o.tokenizer.empty()) d.vocab = load_vocab_file(o.tokenizer, d.config.n_vocab);
      return d;
    }
  }
  fail("internal: unknown source kind");
}

}  // namespace

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::Bitllama2c: return "bitllama2.c checkpoint";
    case SourceKind::HuggingFace: return "Hugging Face checkpoint";
    case SourceKind::Gguf: return "GGUF";
  }
  return "unknown";
}

ConvertReport convert_model(const ConvertOptions& o) {
  ConvertReport report;
  // Refused before the (possibly long) conversion, not when the file is written.
  if (!o.output.empty() && std::filesystem::is_directory(o.output))
    fail("{}: is a directory; -o needs a file name", o.output.string());
  report.kind = detect_source(o.source);
  ModelDraft draft = read_source(o, report.kind, report);
  if (o.write.architecture == "llama" && draft.config.block_repeat > 1) draft = unshare_blocks(draft);
  draft.config.architecture = o.write.architecture;
  report.config = draft.config;
  report.tensors = plan_tensors(draft, o.write);
  if (o.dry_run) return report;
  if (o.output.empty()) fail("no output file: pass -o OUT.gguf");
  const GgufWriter writer = draft_to_gguf(draft, report.tensors, o.write, o.progress);
  report.file_bytes = writer.file_size();
  writer.write(o.output);
  return report;
}

}  // namespace tern
