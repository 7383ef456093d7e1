{
  "targets": [{
    "target_name": "strata_native",
    "sources": ["strata_native.c", "fuse_dev.c", "gzip.c", "copy_up.c", "set_attr.c"],
    "libraries": ["-ldeflate"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "defines": ["_GNU_SOURCE", "_FILE_OFFSET_BITS=64", "NAPI_VERSION=8"]
  }]
}
