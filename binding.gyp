{
  "targets": [
    {
      "target_name": "tsyd",
      "sources": [
        "addon/addon.cc",
        "addon/filter.cc",
        "addon/spawn.cc",
        "addon/notify.cc",
        "addon/memory.cc",
        "addon/path.cc",
        "addon/pathat.cc",
        "addon/open.cc",
        "addon/process.cc",
        "addon/fsops.cc",
        "addon/dirents.cc",
        "addon/net.cc",
        "addon/unixbind.cc",
        "addon/alone.cc",
        "addon/control.cc",
        "addon/privilege.cc",
        "addon/offload.cc",
        "addon/interrupter.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
