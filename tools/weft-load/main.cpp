// weft-load: an HTTP load generator whose virtual users are weft fibers.
// See docs/load-testing.md; the work is done by cli.cpp.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    return weft::load::run_cli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "weft-load: " << e.what() << '\n';
    return 1;
  }
}
