{
  "targets": [
    {
      "target_name": "forwarder",
      "sources": [
        "src/forwarder/native/addon.cc",
        "src/forwarder/native/addon_teredo.cc",
        "src/forwarder/native/dataplane.cc",
        "src/forwarder/native/egress.cc",
        "src/forwarder/native/fastpath.cc",
        "src/forwarder/native/lw4o6.cc",
        "src/forwarder/native/napt.cc",
        "src/forwarder/native/nat46.cc",
        "src/forwarder/native/packet.cc",
        "src/forwarder/native/teredo.cc",
        "src/forwarder/native/teredo_codec.cc"
      ],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "netlink",
      "sources": ["src/wan/native/netlink.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
