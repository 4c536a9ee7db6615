// Uses the installed or embedded weft: spawn, join, sleep.
#include <weft/weft.hpp>

int main() {
  weft::runtime rt(weft::options{.workers = 2});
  const int v = rt.block_on([] {
    auto h = weft::spawn([] {
      weft::this_fiber::sleep_for(std::chrono::milliseconds(1));
      return 41;
    });
    return h.join() + 1;
  });
  return v == 42 ? 0 : 1;
}
