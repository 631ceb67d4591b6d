"""ModelConfig has one source of truth: train/s3d_nerf/config.py (ModelConfig, AudioConfig).
The other copies are checked against it here, so that a field added, renamed, retyped or
given a new default on one side fails CI until every side agrees:

  - ts/config.ts            the ModelConfig / AudioFrontEndConfig interfaces: exactly the
                            same keys, with the matching TypeScript types;
  - cpp/core/model_config.h the structs: same fields and types, s3d-64 defaults equal
                            to s3d_64()'s;
  - cpp/core/model_config.cc parse_model_config reads and model_config_to_json writes
                            every key (into the member of the same name), and the defaults
                            for keys absent from older model files equal the ones
                            ModelConfig.from_json fills in;
  - cuda/nerf_renderer.cuh  CudaNerfDims: a subset under the same names (h0..h2 =
                            deform_hidden), s3d-64 defaults, all of it filled from a
                            ModelConfig where the CUDA test builds one;
  - the derived sizes (pe_dim(), deform_in(), ...) of both C++ structs equal config.py's
    properties for the s3d-64 and tiny configs.

Text-level checks (no compiler, no torch):
    /usr/bin/python3 -m pytest -q train/tests/test_config_sync.py
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import os
import re
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from s3d_nerf.config import AudioConfig, ModelConfig, s3d_64  # noqa: E402

TS = os.path.join(ROOT, "ts", "config.ts")
CPP_H = os.path.join(ROOT, "cpp", "core", "model_config.h")
CPP_CC = os.path.join(ROOT, "cpp", "core", "model_config.cc")
CUDA_H = os.path.join(ROOT, "cuda", "nerf_renderer.cuh")
CUDA_TEST = os.path.join(ROOT, "tests", "cuda", "test_nerf_cuda.cc")

# Python annotation -> the type each other side must declare.
TS_TYPE = {"str": "string", "int": "number", "float": "number", "bool": "boolean",
           "List[int]": "readonly number[]", "List[float]": "readonly number[]", "AudioConfig": "AudioFrontEndConfig"}
CPP_TYPE = {"str": "std::string", "int": "int", "float": "float", "bool": "bool",
            "List[int]": "std::vector<int>", "List[float]": "std::vector<float>", "AudioConfig": "AudioFrontEnd"}
# Keys of older model files that the engine still reads (into other fields, or to refuse).
LEGACY_KEYS = {"sr_hide_below", "sr_gate_keep"}
STRUCTS = {"ModelConfig": ("ModelConfig", "ModelConfig"), "AudioConfig": ("AudioFrontEnd", "AudioFrontEndConfig")}
PY_CLASSES = {"ModelConfig": ModelConfig, "AudioConfig": AudioConfig}


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _py_fields(cls) -> dict:
    """name -> annotation text, in declaration order."""
    return {f.name: str(f.type).replace("typing.", "") for f in dataclasses.fields(cls)}


def _block(text: str, opener: str) -> str:
    """The text between `opener` (which ends in '{') and its matching '}'."""
    start = text.index(opener) + len(opener)
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"unbalanced braces after {opener!r}")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _split_top(s: str, sep: str = ",") -> list:
    out, depth, cur = [], 0, ""
    for ch in s:
        depth += {"{": 1, "}": -1, "<": 1, ">": -1, "(": 1, ")": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [x.strip() for x in out if x.strip()]


def _cpp_value(v: str):
    v = v.strip()
    if v.startswith("{"):
        return [_cpp_value(x) for x in _split_top(v[1:-1])]
    if v.startswith('"'):
        return json.loads(v)
    if v in ("true", "false"):
        return v == "true"
    v = re.sub(r"(?<=[0-9.])[fF]$", "", v)
    return float(v) if re.search(r"[.eE]", v) else int(v)


def _cpp_members(struct_body: str) -> dict:
    """Data members declared directly in a C++ struct body: name -> (type, default text or None).
    Handles `int a = 1, b = 2;` and `float x[3] = {...};`; skips member functions."""
    out = {}
    text = _strip_comments(struct_body)
    stmt, i = "", 0
    while i < len(text):
        ch = text[i]
        if ch == "{" and "(" in stmt:  # a member function's body: skip it
            depth = 0
            while True:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
                if depth == 0:
                    break
            stmt = ""
            continue
        if ch == "{":  # a brace initialiser
            j = text.index("}", i)
            stmt += text[i:j + 1]
            i = j + 1
            continue
        i += 1
        if ch != ";":
            stmt += ch
            continue
        s = " ".join(stmt.split())
        stmt = ""
        m = re.match(r"^((?:std::)?\w+(?:<[^>]*>)?)\s+(.*)$", s)
        if not m or "(" in s:
            continue  # a function declaration
        ctype, decls = m.groups()
        for d in _split_top(decls):
            dm = re.match(r"^(\w+)(\[\d+\])?\s*(?:=\s*(.+))?$", d)
            assert dm, f"cannot parse the declarator {d!r}"
            out[dm.group(1)] = (ctype + (dm.group(2) or ""), dm.group(3))
    return out


def _ts_interface(name: str) -> dict:
    body = _strip_comments(_block(_read(TS), f"export interface {name} {{"))
    members = re.findall(r"(readonly\s+)?(\w+)\s*:\s*([^;]+);", body)
    for ro, key, _ in members:
        assert ro, f"ts/config.ts {name}.{key} is not readonly"
    return {key: " ".join(t.split()) for _, key, t in members}


def _cc_function(name_sig: str) -> str:
    return _block(_read(CPP_CC), name_sig)


# ------------------------------------------------------------------ (a) + (b) TypeScript

@pytest.mark.parametrize("py", ["ModelConfig", "AudioConfig"])
def test_ts_interface_has_exactly_the_python_fields(py):
    fields = _py_fields(PY_CLASSES[py])
    ts = _ts_interface(STRUCTS[py][1])
    assert set(ts) == set(fields), (
        f"ts/config.ts {STRUCTS[py][1]} keys differ from {py}: missing {sorted(set(fields) - set(ts))}, "
        f"extra {sorted(set(ts) - set(fields))}")
    for k, t in fields.items():
        assert t in TS_TYPE, f"{py}.{k}: no TypeScript type known for {t!r} (extend TS_TYPE)"
        assert ts[k] == TS_TYPE[t], f"ts/config.ts {STRUCTS[py][1]}.{k} is {ts[k]!r}, expected {TS_TYPE[t]!r} for {t}"


# ------------------------------------------------------------------ (c) C++ header and defaults

def _cpp_struct(py: str) -> dict:
    return _cpp_members(_block(_read(CPP_H), f"struct {STRUCTS[py][0]} {{"))


@pytest.mark.parametrize("py", ["ModelConfig", "AudioConfig"])
def test_cpp_struct_fields_types_and_s3d64_defaults(py):
    fields = _py_fields(PY_CLASSES[py])
    members = _cpp_struct(py)
    assert set(members) == set(fields), (
        f"cpp/core/model_config.h {STRUCTS[py][0]} fields differ from {py}: missing "
        f"{sorted(set(fields) - set(members))}, extra {sorted(set(members) - set(fields))}")
    ref = s3d_64() if py == "ModelConfig" else s3d_64().audio
    for k, t in fields.items():
        ctype, default = members[k]
        assert t in CPP_TYPE, f"{py}.{k}: no C++ type known for {t!r} (extend CPP_TYPE)"
        assert ctype == CPP_TYPE[t], f"model_config.h {STRUCTS[py][0]}.{k} is {ctype}, expected {CPP_TYPE[t]} for {t}"
        if t == "AudioConfig":
            assert default is None, f"model_config.h {k}: the nested struct's own defaults apply"
            continue
        assert default is not None, f"model_config.h {STRUCTS[py][0]}.{k} has no default (s3d-64: {getattr(ref, k)!r})"
        assert _cpp_value(default) == getattr(ref, k), (
            f"model_config.h {STRUCTS[py][0]}.{k} = {default} but s3d_64() has {getattr(ref, k)!r}")


# ------------------------------------------------------------------ (c) C++ parse and serialise

def test_cpp_parse_reads_every_key_into_its_member():
    fields = _py_fields(ModelConfig)
    audio = _py_fields(AudioConfig)
    parse = _cc_function("ModelConfig parse_model_config(const std::string& json) {")
    parse_audio = _cc_function("AudioFrontEnd parse_audio(const JsonValue& o, const std::string& path) {")
    keys = set(re.findall(r"\(root,\s*\"(\w+)\"", parse)) | set(re.findall(r"root\.find\(\"(\w+)\"\)", parse))
    keys -= LEGACY_KEYS
    assert keys == set(fields), (f"parse_model_config vs ModelConfig: missing {sorted(set(fields) - keys)}, "
                                f"extra {sorted(keys - set(fields))}")
    akeys = set(re.findall(r"\(o,\s*\"(\w+)\"", parse_audio))
    assert akeys == set(audio), f"parse_audio: missing {sorted(set(audio) - akeys)}, extra {sorted(akeys - set(audio))}"
    # A key is read into the member of the same name (no copy-paste swaps).
    for var, obj, body in (("c", "root", parse), ("a", "o", parse_audio)):
        for member, key in re.findall(var + r"\.(\w+)\s*=[^;]*?\(" + obj + r",\s*\"(\w+)\"", body):
            assert member == key, f"{var}.{member} is read from the key {key!r}"


def test_cpp_serialise_writes_every_key_from_its_member():
    fields = _py_fields(ModelConfig)
    audio = _py_fields(AudioConfig)
    body = _cc_function("std::string model_config_to_json(const ModelConfig& c) {")
    o = re.findall(r"\bo\.set\(\"(\w+)\",\s*([^;]*)\);", body)
    a = re.findall(r"\ba\.set\(\"(\w+)\",\s*([^;]*)\);", body)
    for got, want, what in (({k for k, _ in o}, set(fields), "ModelConfig"), ({k for k, _ in a}, set(audio), "AudioConfig")):
        assert got == want, (f"model_config_to_json vs {what}: missing {sorted(want - got)}, "
                             f"extra {sorted(got - want)}")
    for key, expr in o + a:
        m = re.search(r"\bc\.(?:audio\.)?(\w+)", expr)
        if key == "audio":
            assert "std::move(a)" in expr
            continue
        assert m and m.group(1) == key, f"model_config_to_json writes {key!r} from {expr!r}"


# ------------------------------------------------------------------ (d) older model files

def _python_legacy_defaults() -> dict:
    tree = ast.parse(textwrap.dedent(inspect.getsource(ModelConfig.from_json)))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault":
            out[ast.literal_eval(node.args[0])] = ast.literal_eval(node.args[1])
    return out


def test_cpp_defaults_for_keys_absent_from_older_files_match_python():
    py = _python_legacy_defaults()
    assert py, "ModelConfig.from_json has no setdefault calls: update this test"
    parse = _cc_function("ModelConfig parse_model_config(const std::string& json) {")
    cpp = {}
    for member, value, key in re.findall(
            r"c\.(\w+)\s*=\s*([^;]+);\s*if \(const JsonValue\* v = root\.find\(\"(\w+)\"\)\)", parse):
        assert member == key, f"c.{member} defaults, then reads the key {key!r}"
        cpp[key] = _cpp_value(value)
    assert cpp == py, f"absent-key defaults: C++ {cpp} vs Python ModelConfig.from_json {py}"
    # And Python really applies them: a file without those keys means the old model.
    d = json.loads(s3d_64().to_json())
    for k in py:
        del d[k]
    old = ModelConfig.from_json(json.dumps(d))
    assert {k: getattr(old, k) for k in py} == py


def test_python_reads_the_older_mouth_hole_keys():
    """sr_hide_below = b (the first hole) is the box [0, b, 1, 1] without feather, as in
    parse_model_config; b = 0 or no key at all is no hole."""
    d = json.loads(s3d_64().to_json())
    del d["sr_hole"], d["sr_hole_feather"], d["sr_paste_source"]  # keys newer than the hole cut
    assert ModelConfig.from_json(json.dumps(d)).sr_hole == []
    for b, box in ((0.58, [0.0, 0.58, 1.0, 1.0]), (0.0, [])):
        old = ModelConfig.from_json(json.dumps(dict(d, sr_hide_below=b)))
        assert (old.sr_hole, old.sr_hole_feather) == (box, 0.0)


def test_python_json_round_trip_has_the_dataclass_keys():
    d = json.loads(s3d_64().to_json())
    assert set(d) == set(_py_fields(ModelConfig)) and set(d["audio"]) == set(_py_fields(AudioConfig))
    assert ModelConfig.from_json(s3d_64().to_json()) == s3d_64()


# ------------------------------------------------------------------ CUDA dims

CUDA_ALIASES = {"h0": ("deform_hidden", 0), "h1": ("deform_hidden", 1), "h2": ("deform_hidden", 2)}
CUDA_DERIVED = {"plane_scale"}  # ModelConfig.plane_scale (a property); its default is the legacy 2


def test_cuda_dims_are_a_modelconfig_subset_with_s3d64_defaults():
    fields = _py_fields(ModelConfig)
    ref = s3d_64()
    members = _cpp_members(_block(_read(CUDA_H), "struct CudaNerfDims {"))
    assert members, "CudaNerfDims not found"
    for name, (ctype, default) in members.items():
        if name in CUDA_DERIVED:
            assert isinstance(getattr(ModelConfig, name), property), f"CudaNerfDims.{name}: not a ModelConfig property"
            continue
        if name in CUDA_ALIASES:
            field, i = CUDA_ALIASES[name]
            want, t = getattr(ref, field)[i], "int"
        else:
            assert name in fields, f"CudaNerfDims.{name} is not a ModelConfig field (same names, or add an alias here)"
            want, t = getattr(ref, name), fields[name]
        assert ctype == CPP_TYPE[t], f"CudaNerfDims.{name} is {ctype}, expected {CPP_TYPE[t]}"
        assert default is not None and _cpp_value(default) == want, (
            f"CudaNerfDims.{name} = {default} but s3d_64() has {want!r}")
    # Where a CudaNerfDims is built from a ModelConfig, every field is set.
    test_src = _read(CUDA_TEST)
    var = re.search(r"CudaNerfDims\s+(\w+);", test_src).group(1)
    unset = [n for n in members if not re.search(rf"\b{var}\.{n}\b(\[\w+\])?\s*=", test_src)]
    assert not unset, f"tests/cuda/test_nerf_cuda.cc leaves CudaNerfDims {unset} at their defaults"


# ------------------------------------------------------------------ derived sizes

def _cpp_derived(struct_body: str) -> dict:
    """One-line `int name() const { return expr; }` methods: name -> expr."""
    return dict(re.findall(r"\bint\s+(\w+)\(\)\s*const\s*\{\s*return\s+([^;]+);\s*\}", struct_body))


@pytest.mark.parametrize("where", ["cpp/core/model_config.h", "cuda/nerf_renderer.cuh"])
def test_derived_sizes_match_the_python_properties(where):
    from s3d_nerf.config import tiny
    body = _block(_read(os.path.join(ROOT, where)),
                  "struct ModelConfig {" if where.endswith("model_config.h") else "struct CudaNerfDims {")
    derived = _cpp_derived(body)
    assert derived, f"no derived sizes found in {where}"
    for cfg in (s3d_64(), tiny()):
        ns = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
        for name in derived:
            assert isinstance(getattr(ModelConfig, name, None), property), f"{where}: {name}() is not a ModelConfig property"
            ns[name] = (lambda n=name: getattr(cfg, n))
        for name, expr in derived.items():
            got = eval(expr.replace("/", "//"), {}, ns)  # C++ int division
            assert got == getattr(cfg, name), f"{where}: {name}() = {expr} gives {got}, config.py {getattr(cfg, name)} ({cfg.name})"
