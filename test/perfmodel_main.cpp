// Catch2's own main: the perfmodel tests run without SystemC.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
