// A shared library that is not an AAT plugin: it exports no aat_plugin_entry.
extern "C" __attribute__((visibility("default"))) int some_other_function(void) { return 42; }
