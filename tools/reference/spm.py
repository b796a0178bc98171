"""Tiny SentencePiece-BPE tokenizer over a GGUF `llama` vocab, plus a .model reader.

Only for the reference's sanity checks (prompt ids, printing continuations); it follows
llama.cpp's SPM algorithm: merge the adjacent pair with the highest-scoring vocab entry
(leftmost on ties) until none is left, then fall back to <0xXX> byte tokens.
"""

import struct

SPACE = "\u2581"  # ▁


class Vocab:
    def __init__(self, pieces, scores, types):
        self.pieces, self.scores, self.types = list(pieces), list(scores), list(types)
        self.index = {p: i for i, p in enumerate(self.pieces)}

    @classmethod
    def from_gguf_metadata(cls, meta):
        return cls(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                   meta["tokenizer.ggml.token_type"])

    def encode(self, text, add_space_prefix=True):
        """Text -> token ids (without BOS)."""
        if add_space_prefix:
            text = " " + text
        symbols = list(text.replace(" ", SPACE))
        while True:
            best = None
            for i in range(len(symbols) - 1):
                merged = symbols[i] + symbols[i + 1]
                idx = self.index.get(merged)
                if idx is not None and (best is None or self.scores[idx] > best[0]):
                    best = (self.scores[idx], i)
            if best is None:
                break
            i = best[1]
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        ids = []
        for s in symbols:
            if s in self.index:
                ids.append(self.index[s])
            else:
                ids.extend(self.index[f"<0x{b:02X}>"] for b in s.encode("utf-8"))
        return ids

    def decode(self, ids):
        """Token ids -> text; control tokens dropped, byte tokens joined as UTF-8."""
        out = bytearray()
        for i in ids:
            piece, kind = self.pieces[i], self.types[i]
            if kind == 6:
                out.append(int(piece[3:5], 16))
            elif kind in (1, 4):
                out += piece.replace(SPACE, " ").encode("utf-8")
        return out.decode("utf-8", errors="replace")


def _varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def _fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield num, wire, val


def read_sentencepiece_model(path):
    """Reads a SentencePiece .model (ModelProto) into a Vocab.

    SentencePiece types (1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte, 5 unused)
    are the same numbers GGUF uses, so they are kept as is.
    """
    with open(path, "rb") as f:
        buf = f.read()
    pieces, scores, types = [], [], []
    for num, _, val in _fields(buf):
        if num != 1:
            continue
        piece, score, kind = "", 0.0, 1
        for n, _, v in _fields(val):
            if n == 1:
                piece = v.decode("utf-8")
            elif n == 2:
                score = struct.unpack("<f", v)[0]
            elif n == 3:
                kind = v
        pieces.append(piece)
        scores.append(score)
        types.append(kind)
    return Vocab(pieces, scores, types)
