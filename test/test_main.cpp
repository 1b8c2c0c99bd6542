// Project sc_main running the Catch2 session. catch_discover_tests registers
// each test case separately, so every case is its own process with a fresh
// SystemC kernel.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

#include <cstdlib>

int sc_main(int argc, char** argv) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  return Catch::Session().run(argc, argv);
}

// Our own main (the linker prefers it over libsystemc's) so the SystemC banner
// stays out of machine-readable output.
int main(int argc, char** argv) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
