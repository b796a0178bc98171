// GgufWriter: writer -> reader round trips of every metadata value type and every
// tensor type, interoperability with the independent Python GGUF code in
// tools/reference/gguf.py in both directions, and the atomic-replace guarantee.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "tern/error.h"
#include "test_support.h"

namespace tern::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

GgufValue scalar(GgufValueType type, std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> v) {
  GgufValue out;
  out.type = type;
  out.value = std::move(v);
  return out;
}

// Structural equality; floats compared bit for bit as the wire type stores them.
void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  if (a.type == GgufValueType::ARRAY) {
    ASSERT_EQ(a.element_type, b.element_type) << where;
    const auto& x = std::get<GgufArray>(a.value);
    const auto& y = std::get<GgufArray>(b.value);
    ASSERT_EQ(x.size(), y.size()) << where;
    for (size_t i = 0; i < x.size(); ++i) expect_same_value(x[i], y[i], where + "[" + std::to_string(i) + "]");
    return;
  }
  ASSERT_EQ(a.value.index(), b.value.index()) << where;
  if (a.type == GgufValueType::F32) {
    const float fa = static_cast<float>(std::get<double>(a.value)), fb = static_cast<float>(std::get<double>(b.value));
    uint32_t ua, ub;
    std::memcpy(&ua, &fa, 4);
    std::memcpy(&ub, &fb, 4);
    EXPECT_EQ(ua, ub) << where;
  } else if (a.type == GgufValueType::F64) {
    const double da = std::get<double>(a.value), db = std::get<double>(b.value);
    uint64_t ua, ub;
    std::memcpy(&ua, &da, 8);
    std::memcpy(&ub, &db, 8);
    EXPECT_EQ(ua, ub) << where;
  } else if (const auto* u = std::get_if<uint64_t>(&a.value)) {
    EXPECT_EQ(*u, std::get<uint64_t>(b.value)) << where;
  } else if (const auto* i = std::get_if<int64_t>(&a.value)) {
    EXPECT_EQ(*i, std::get<int64_t>(b.value)) << where;
  } else if (const auto* flag = std::get_if<bool>(&a.value)) {
    EXPECT_EQ(*flag, std::get<bool>(b.value)) << where;
  } else {
    EXPECT_EQ(std::get<std::string>(a.value), std::get<std::string>(b.value)) << where;
  }
}

// Every value type, with edge values.
std::vector<std::pair<std::string, GgufValue>> all_value_types() {
  using T = GgufValueType;
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"t.u8", scalar(T::U8, uint64_t{255})},
      {"t.i8", scalar(T::I8, int64_t{-128})},
      {"t.u16", scalar(T::U16, uint64_t{65535})},
      {"t.i16", scalar(T::I16, int64_t{-32768})},
      {"t.u32", GgufValue::u32(4294967295u)},
      {"t.i32", GgufValue::i32(std::numeric_limits<int32_t>::min())},
      {"t.f32", GgufValue::f32(0.1f)},
      {"t.f32_subnormal", GgufValue::f32(1e-40f)},
      {"t.f32_negzero", GgufValue::f32(-0.0f)},
      {"t.bool_true", GgufValue::boolean(true)},
      {"t.bool_false", GgufValue::boolean(false)},
      {"t.string", GgufValue::string("h\xc3\xa9llo \xe2\x96\x81 w\xf0\x9f\xa6\x99rld")},
      {"t.string_empty", GgufValue::string("")},
      {"t.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max())},
      {"t.i64", scalar(T::I64, std::numeric_limits<int64_t>::min())},
      {"t.f64", scalar(T::F64, 1.0 / 3.0)},
      {"t.f64_big", scalar(T::F64, 1e300)},
      {"t.arr_i32", GgufValue::i32_array({1, -2, 2147483647, std::numeric_limits<int32_t>::min()})},
      {"t.arr_f32", GgufValue::f32_array({1.5f, -0.25f, 3.4028235e38f, 1e-45f})},
      {"t.arr_string", GgufValue::string_array({"<unk>", "", "\xe2\x96\x81the", "<0x0A>"})},
      {"t.arr_empty", GgufValue::array(T::U8, {})},
      {"t.arr_bool", GgufValue::array(T::BOOL, {GgufValue::boolean(true), GgufValue::boolean(false)})},
      {"t.arr_u64", GgufValue::array(T::U64, {GgufValue::u64(0), GgufValue::u64(uint64_t{1} << 63)})},
  };
  // Nested: an array of arrays of u8, and an array of arrays of strings (one empty).
  GgufArray rows;
  rows.push_back(GgufValue::array(T::U8, {scalar(T::U8, uint64_t{1}), scalar(T::U8, uint64_t{2})}));
  rows.push_back(GgufValue::array(T::U8, {}));
  rows.push_back(GgufValue::array(T::U8, {scalar(T::U8, uint64_t{3})}));
  kv.emplace_back("t.nested_u8", GgufValue::array(T::ARRAY, rows));
  GgufArray names;
  names.push_back(GgufValue::string_array({"a", "bc"}));
  names.push_back(GgufValue::string_array({}));
  kv.emplace_back("t.nested_string", GgufValue::array(T::ARRAY, names));
  return kv;
}

struct TensorSpec {
  std::string name;
  TensorType type;
  std::vector<uint64_t> ne;
};

// One tensor of every type, shapes with several rows and dimensions.
std::vector<TensorSpec> all_tensor_types() {
  return {
      {"f32.vec", TensorType::F32, {7}},          {"f16.mat", TensorType::F16, {5, 3}},
      {"bf16.3d", TensorType::BF16, {4, 3, 2}},   {"q8_0.mat", TensorType::Q8_0, {64, 3}},
      {"tq1_0.mat", TensorType::TQ1_0, {256, 2}}, {"tq2_0.4d", TensorType::TQ2_0, {512, 1, 2, 1}},
      {"tern2.mat", TensorType::TERN2, {13, 5}},  {"f32.after", TensorType::F32, {1}},
  };
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

uint64_t n_rows_of(const std::vector<uint64_t>& ne) {
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  return rows;
}

std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

// Writes all value types and all tensor types; returns the tensor bytes by name.
std::map<std::string, std::vector<uint8_t>> write_everything(const std::filesystem::path& path, uint32_t alignment) {
  GgufWriter w;
  if (alignment != 32) w.set("general.alignment", GgufValue::u32(alignment));
  for (const auto& [k, v] : all_value_types()) w.set(k, v);
  std::map<std::string, std::vector<uint8_t>> data;
  uint32_t seed = 1;
  for (const auto& t : all_tensor_types()) {
    auto bytes = random_bytes(tensor_bytes(t.type, t.ne[0], n_rows_of(t.ne)), seed++);
    data[t.name] = bytes;
    w.add_tensor(t.name, t.type, t.ne, bytes);
  }
  w.write(path);
  EXPECT_EQ(std::filesystem::file_size(path), w.file_size());
  return data;
}

TEST(GgufWriter, RoundTripsEveryValueAndTensorType) {
  for (uint32_t alignment : {32u, 64u, 1u, 4096u}) {
    TempDir dir;
    const auto path = dir / "all.gguf";
    const auto data = write_everything(path, alignment);
    const auto f = GgufFile::open(path);
    EXPECT_EQ(f.alignment(), alignment);
    const auto expected = all_value_types();
    const size_t offset = alignment != 32 ? 1 : 0;  // general.alignment comes first
    ASSERT_EQ(f.metadata().size(), expected.size() + offset);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(f.metadata()[i + offset].first, expected[i].first);  // file order is insertion order
      expect_same_value(f.metadata()[i + offset].second, expected[i].second, expected[i].first);
    }
    const auto specs = all_tensor_types();
    ASSERT_EQ(f.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& t = f.tensors()[i];
      EXPECT_EQ(t.name, specs[i].name);
      EXPECT_EQ(t.type, specs[i].type);
      EXPECT_EQ(t.ne, specs[i].ne);
      EXPECT_EQ(t.offset % alignment, 0u);
      const uint64_t file_offset = t.data.data() - f.mapped().bytes().data();
      EXPECT_EQ(file_offset % alignment, 0u) << t.name;
      EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), data.at(t.name).begin(), data.at(t.name).end())) << t.name;
    }
    // Typed getters see the values too.
    EXPECT_EQ(f.get_uint("t.u8"), 255u);
    EXPECT_EQ(f.get_uint("t.u64"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(f.get_f32("t.f32"), 0.1f);
    EXPECT_EQ(f.get_f32("t.f64"), static_cast<float>(1.0 / 3.0));
    EXPECT_TRUE(f.get_bool("t.bool_true", false));
    EXPECT_EQ(f.get_string_array("t.arr_string")[2], "\xe2\x96\x81the");
    EXPECT_EQ(f.get_i32_array("t.arr_i32")[2], 2147483647);
    EXPECT_EQ(f.get_f32_array("t.arr_f32")[3], 1e-45f);
  }
}

TEST(GgufWriter, SetReplacesAKeyInPlace) {
  TempDir dir;
  GgufWriter w;
  w.set("a", GgufValue::u32(1));
  w.set("b", GgufValue::string("x"));
  w.set("a", GgufValue::string("replaced"));
  w.write(dir / "m.gguf");
  const auto f = GgufFile::open(dir / "m.gguf");
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[0].first, "a");
  EXPECT_EQ(f.get_string("a"), "replaced");
  EXPECT_TRUE(f.tensors().empty());
}

TEST(GgufWriter, RejectsTensorDataOfTheWrongSize) {
  GgufWriter w;
  try {
    w.add_tensor("blk.0.attn_q.weight", TensorType::TQ2_0, {256, 2}, std::vector<uint8_t>(131));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("blk.0.attn_q.weight"), HasSubstr("131"), HasSubstr("132")));
  }
  EXPECT_THROW(w.add_tensor("t", TensorType::TERN2, {5, 2}, std::vector<uint8_t>(4)), Error);  // needs 2*2+4
  EXPECT_NO_THROW(w.add_tensor("t", TensorType::TERN2, {5, 2}, std::vector<uint8_t>(8)));
}

TEST(GgufWriter, RejectsAnInvalidAlignment) {
  // A writer must not produce files its own reader rejects (FORMAT.md: u32, power of two).
  for (uint32_t a : {0u, 3u, 48u}) {
    GgufWriter w;
    EXPECT_THROW(w.set("general.alignment", GgufValue::u32(a)), Error) << a;
  }
  GgufWriter w;
  EXPECT_THROW(w.set("general.alignment", GgufValue::i32(64)), Error);
  EXPECT_THROW(w.set("general.alignment", GgufValue::string("64")), Error);
}

TEST(GgufWriter, WriteLeavesNoTempFileAndReplacesAtomically) {
  TempDir dir;
  const auto path = dir / "model.gguf";
  std::ofstream(path, std::ios::binary) << "old contents, not a GGUF file";
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  {
    // A reader holding the old file keeps seeing the old bytes: the new file is a new
    // inode renamed over the name, never the old one rewritten in place.
    const MappedFile old_map(path);
    GgufWriter w;
    w.set("general.name", GgufValue::string("new"));
    w.add_tensor("x", TensorType::F32, {2}, std::vector<uint8_t>(8, 0));
    w.write(path);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(old_map.bytes().data()), 3), "old");
  }
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(GgufFile::open(path).get_string("general.name"), "new");
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries.push_back(e.path().filename());
  EXPECT_EQ(entries, std::vector<std::string>{"model.gguf"});

  // Writing again over a real GGUF file also leaves exactly one file.
  GgufWriter w2;
  w2.set("general.name", GgufValue::string("newer"));
  w2.write(path);
  EXPECT_EQ(GgufFile::open(path).get_string("general.name"), "newer");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(GgufWriter, UnwritableDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  const auto path = dir / "missing-dir" / "model.gguf";
  GgufWriter w;
  w.set("a", GgufValue::u32(1));
  try {
    w.write(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "missing-dir").string()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "missing-dir"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 0);
}

// ---- interoperability with tools/reference/gguf.py ----

// Converts the Python reader's (value, type spec) into a GgufValue, so both directions
// are compared by the same expect_same_value.
GgufValue from_python(const json& value, const json& spec) {
  if (spec.is_array()) {  // [9, inner spec]
    GgufArray items;
    const json& inner = spec[1];
    for (const auto& item : value) items.push_back(from_python(item, inner));
    const auto element = static_cast<GgufValueType>(inner.is_array() ? 9 : inner.get<uint32_t>());
    return GgufValue::array(element, std::move(items));
  }
  const auto type = static_cast<GgufValueType>(spec.get<uint32_t>());
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::U16:
    case GgufValueType::U32:
    case GgufValueType::U64: return scalar(type, value.get<uint64_t>());
    case GgufValueType::I8:
    case GgufValueType::I16:
    case GgufValueType::I32:
    case GgufValueType::I64: return scalar(type, value.get<int64_t>());
    case GgufValueType::F32:
    case GgufValueType::F64: return scalar(type, value.get<double>());
    case GgufValueType::BOOL: return scalar(type, value.get<bool>());
    case GgufValueType::STRING: return scalar(type, value.get<std::string>());
    default: ADD_FAILURE() << "unexpected spec " << spec.dump(); return {};
  }
}

TEST(GgufWriterInterop, PythonReadsTernsFiles) {
  TempDir dir;
  const auto path = dir / "all.gguf";
  const auto data = write_everything(path, 64);
  const std::string out =
      run_python_script("f = gguf.read_gguf_full(sys.argv[1] if len(sys.argv) > 1 else " + json(path.string()).dump() +
                            ")\n"
                            "print(json.dumps({'alignment': f['alignment'], 'data_start': f['data_start'],\n"
                            "  'kv': [[k, f['metadata'][k], f['types'][k]] for k in f['metadata']],\n"
                            "  'tensors': [[n, t, [int(x) for x in ne], bytes(raw).hex()] for n, (t, ne, raw) in "
                            "f['tensors'].items()]},\n"
                            "  ensure_ascii=False))\n",
                        dir.path());
  const json j = json::parse(out);
  EXPECT_EQ(j["alignment"], 64);
  EXPECT_EQ(j["data_start"].get<uint64_t>() % 64, 0u);
  const auto expected = all_value_types();
  ASSERT_EQ(j["kv"].size(), expected.size() + 1);
  EXPECT_EQ(j["kv"][0][0], "general.alignment");
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& e = j["kv"][i + 1];
    EXPECT_EQ(e[0], expected[i].first);
    expect_same_value(from_python(e[1], e[2]), expected[i].second, expected[i].first);
  }
  const auto specs = all_tensor_types();
  ASSERT_EQ(j["tensors"].size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const json& t = j["tensors"][i];
    EXPECT_EQ(t[0], specs[i].name);
    EXPECT_EQ(t[1], static_cast<uint32_t>(specs[i].type));
    EXPECT_EQ(t[2].get<std::vector<uint64_t>>(), specs[i].ne);
    EXPECT_EQ(t[3], hex(data.at(specs[i].name))) << specs[i].name;
  }
}

TEST(GgufWriterInterop, TernReadsPythonsFiles) {
  TempDir dir;
  const auto path = dir / "py.gguf";
  const std::string out = run_python_script(
      "import numpy as np\n"
      "w = gguf.GGUFWriter(alignment=128)\n"
      "w.add('p.u8', gguf.U8, 200); w.add('p.i8', gguf.I8, -100); w.add('p.u16', gguf.U16, 60000)\n"
      "w.add('p.i16', gguf.I16, -30000); w.add_u32('p.u32', 4000000000); w.add_i32('p.i32', -2000000000)\n"
      "w.add_f32('p.f32', 0.1); w.add_bool('p.bool', True); w.add_string('p.str', 'caf\\u00e9 \\u2581x')\n"
      "w.add('p.u64', gguf.U64, 2**64 - 1); w.add('p.i64', gguf.I64, -2**63); w.add('p.f64', gguf.F64, 2.5e-300)\n"
      "w.add_array('p.ai32', gguf.I32, [1, -1, 7]); w.add_array('p.af32', gguf.F32_V, [0.5, -1e30])\n"
      "w.add_array('p.astr', gguf.STRING, ['x', '', '\\u2581y'])\n"
      "w.add('p.nested', (gguf.ARRAY, (gguf.ARRAY, gguf.I16)), [[1, -2], [], [3]])\n"
      "rng = np.random.default_rng(5)\n"
      "codes = rng.integers(-1, 2, size=(2, 512)).astype(np.int8)\n"
      "d = np.array([[0.5, 0.25], [1.0, 2.0]], dtype=np.float32)\n"
      "x = rng.standard_normal((3, 64)).astype(np.float32)\n"
      "w.add_tensor('f32', gguf.F32, [64, 3], x)\n"
      "w.add_tensor('f16', gguf.F16, [64, 3], np.frombuffer(gguf.f32_to_f16_bytes(x), np.uint8))\n"
      "w.add_tensor('bf16', gguf.BF16, [64, 3], np.frombuffer(gguf.f32_to_bf16_bytes(x), np.uint8))\n"
      "w.add_tensor('q8_0', gguf.Q8_0, [64, 3], gguf.quantize_q8_0(x))\n"
      "w.add_tensor('tq1_0', gguf.TQ1_0, [512, 2], gguf.quantize_tq1_0(codes, d))\n"
      "w.add_tensor('tq2_0', gguf.TQ2_0, [512, 2], gguf.quantize_tq2_0(codes, d))\n"
      "w.add_tensor('tern2', gguf.TERN2, [7, 3], gguf.pack_tern2(codes[:, :7].repeat(2, axis=0)[:3], "
      "np.float32(0.75)))\n"
      "w.write(" +
          json(path.string()).dump() +
          ")\n"
          "print(json.dumps({n: bytes(raw).hex() for n, _, _, raw in w.tensors}))\n",
      dir.path());
  const json tensors = json::parse(out);
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f.alignment(), 128u);
  using T = GgufValueType;
  expect_same_value(*f.find("p.u8"), scalar(T::U8, uint64_t{200}), "p.u8");
  expect_same_value(*f.find("p.i8"), scalar(T::I8, int64_t{-100}), "p.i8");
  expect_same_value(*f.find("p.u16"), scalar(T::U16, uint64_t{60000}), "p.u16");
  expect_same_value(*f.find("p.i16"), scalar(T::I16, int64_t{-30000}), "p.i16");
  expect_same_value(*f.find("p.u32"), GgufValue::u32(4000000000u), "p.u32");
  expect_same_value(*f.find("p.i32"), GgufValue::i32(-2000000000), "p.i32");
  expect_same_value(*f.find("p.f32"), GgufValue::f32(0.1f), "p.f32");
  expect_same_value(*f.find("p.bool"), GgufValue::boolean(true), "p.bool");
  expect_same_value(*f.find("p.str"), GgufValue::string("caf\xc3\xa9 \xe2\x96\x81x"), "p.str");
  expect_same_value(*f.find("p.u64"), GgufValue::u64(std::numeric_limits<uint64_t>::max()), "p.u64");
  expect_same_value(*f.find("p.i64"), scalar(T::I64, std::numeric_limits<int64_t>::min()), "p.i64");
  expect_same_value(*f.find("p.f64"), scalar(T::F64, 2.5e-300), "p.f64");
  expect_same_value(*f.find("p.ai32"), GgufValue::i32_array({1, -1, 7}), "p.ai32");
  expect_same_value(*f.find("p.af32"), GgufValue::f32_array({0.5f, -1e30f}), "p.af32");
  expect_same_value(*f.find("p.astr"), GgufValue::string_array({"x", "", "\xe2\x96\x81y"}), "p.astr");
  GgufArray nested;
  nested.push_back(GgufValue::array(T::I16, {scalar(T::I16, int64_t{1}), scalar(T::I16, int64_t{-2})}));
  nested.push_back(GgufValue::array(T::I16, {}));
  nested.push_back(GgufValue::array(T::I16, {scalar(T::I16, int64_t{3})}));
  expect_same_value(*f.find("p.nested"), GgufValue::array(T::ARRAY, nested), "p.nested");

  const std::map<std::string, std::pair<TensorType, std::vector<uint64_t>>> expected = {
      {"f32", {TensorType::F32, {64, 3}}},      {"f16", {TensorType::F16, {64, 3}}},
      {"bf16", {TensorType::BF16, {64, 3}}},    {"q8_0", {TensorType::Q8_0, {64, 3}}},
      {"tq1_0", {TensorType::TQ1_0, {512, 2}}}, {"tq2_0", {TensorType::TQ2_0, {512, 2}}},
      {"tern2", {TensorType::TERN2, {7, 3}}}};
  ASSERT_EQ(f.tensors().size(), expected.size());
  for (const auto& [name, spec] : expected) {
    const auto* t = f.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->type, spec.first) << name;
    EXPECT_EQ(t->ne, spec.second) << name;
    EXPECT_EQ(t->offset % 128, 0u) << name;
    EXPECT_EQ(hex(t->data), tensors.at(name).get<std::string>()) << name;
  }

  // Rewriting the Python file through tern's writer reproduces it byte for byte.
  GgufWriter w;
  for (const auto& [k, v] : f.metadata()) w.set(k, v);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.ne, {t.data.begin(), t.data.end()});
  w.write(dir / "copy.gguf");
  std::ifstream a(path, std::ios::binary), b(dir / "copy.gguf", std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa.size(), sb.size());
  EXPECT_TRUE(sa == sb);
}

}  // namespace
}  // namespace tern::testing
