// A fiber that blocks its worker thread, and the warning that names it.
//
// fetch_config() calls std::this_thread::sleep_for, which blocks the
// worker's OS thread (weft::this_fiber::sleep_for would park only the
// fiber): nothing else can run on that worker meanwhile. With
// options::stall_warning (or WEFT_STALL_WARNING_MS), weft writes one
// warning to stderr, naming the fiber and showing where it is stuck.
#include <chrono>
#include <thread>
#include <weft/weft.hpp>

namespace {

[[gnu::noinline]] int fetch_config() {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the mistake
  return 42;
}

}  // namespace

int main() {
  weft::runtime rt(weft::options{.workers = 1, .stall_warning = std::chrono::milliseconds(100)});
  const int value = rt.block_on([] {
    return weft::spawn(weft::spawn_options{.name = "loader"}, [] { return fetch_config(); }).join();
  });
  return value == 42 ? 0 : 1;
}
