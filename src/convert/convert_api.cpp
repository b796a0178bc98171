// The public face of conversion (tern/convert.h): type names checked and mapped onto
// the converter's own options.
#include "tern/convert.h"

#include "convert/convert.h"
#include "convert/tokenizer_source.h"
#include "io/tensor_type.h"
#include "tern/error.h"

namespace tern {
namespace {

TensorType parse_type(const std::string& flag, const std::string& name, bool ternary) {
  const auto type = tensor_type_from_name(name);
  if (!type || traits(*type).ternary != ternary || *type == TensorType::Q4_K || *type == TensorType::I2_S)
    fail("{} '{}' is not one of {}", flag, name,
         ternary ? "tern2, tern2r, tq2_0, tq1_0"
                 : std::string(flag == "--embd-type" ? "auto, " : "") + "f32, f16, bf16, q4_0, q8_0, q6_k");
  return *type;
}

}  // namespace

ConvertSummary convert_checkpoint(const ConvertRequest& request) {
  if (request.to != "mobilellm" && request.to != "llama")
    fail("target architecture '{}' is not one of mobilellm, llama", request.to);
  ConvertOptions options;
  options.source = request.source;
  options.output = request.output;
  options.tokenizer = request.tokenizer;
  options.dry_run = request.dry_run;
  options.progress = request.progress;
  options.write.architecture = request.to;
  const std::string ternary =
      request.ternary_type.empty() ? (request.to == "llama" ? "tq2_0" : "tern2") : request.ternary_type;
  // The names are those of `tern convert`'s flags: the messages are what its user sees.
  options.write.ternary_type = parse_type("--type", ternary, true);
  if (request.embedding_type != "auto")
    options.write.embedding_type = parse_type("--embd-type", request.embedding_type, false);
  options.write.dense_type = parse_type("--dense-type", request.dense_type, false);
  const ConvertReport report = convert_model(options);
  ConvertSummary summary;
  summary.source_kind = source_kind_name(report.kind);
  summary.config = report.config;
  for (const PlannedTensor& t : report.tensors)
    summary.tensors.push_back({t.name, t.ne, std::string(tensor_type_name(t.type)), t.bytes});
  summary.file_bytes = report.file_bytes;
  summary.post_training_quantized = report.post_training_quantized;
  summary.notes = report.notes;
  return summary;
}

Vocab load_tokenizer_file(const std::filesystem::path& path) { return load_vocab_file(path, 0); }

}  // namespace tern
