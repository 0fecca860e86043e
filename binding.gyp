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
        "addon/ipc-accept.cc",
        "addon/alone.cc",
        "addon/control.cc",
        "addon/privilege.cc",
        "addon/act-as.cc",
        "addon/own-proc.cc",
        "addon/view-proc.cc",
        "addon/view-devices.cc",
        "addon/offload.cc",
        "addon/interrupter.cc",
        "addon/crypt.cc",
        "addon/crypt-files.cc",
        "addon/crypt-writeback-check.cc",
        "addon/crypt-lost.cc",
        "addon/fds-left.cc",
        "addon/crypt-io.cc",
        "addon/aes.cc",
        "addon/agent.cc",
        "addon/native-thread.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a worker ended (piscina.destroy at exit) while it
      # runs addon code, even Init, gets napi_pending_exception from every call; without it
      # node-addon-api turns the throw that follows into a fatal error: SIGABRT of all of tsyd
      # (seen in CI: an emulator ended while it loaded the addon).
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
