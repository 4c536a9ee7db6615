// A three-stage pipeline connected by channels:
//
//   generate --numbers--> square (x4 fibers) --squares--> sum (with a timeout)
//
// Each stage is a plain sequential fiber; a full channel makes its writer
// wait, an empty one its reader, and closing a channel ends the stage that
// reads it. The last stage uses select to give up if no result arrives in
// time. Exits 0 if the sum is right.
#include <chrono>
#include <cstdio>
#include <weft/weft.hpp>

int main() {
  using namespace std::chrono_literals;
  constexpr long count = 10'000;
  weft::runtime rt(weft::options{.workers = 4});

  const long total = rt.block_on([] {
    weft::channel<long> numbers(64), squares(64);

    // Stage 1: generate 1..count, then close: "no more numbers".
    auto generate = weft::spawn([numbers]() mutable {
      for (long i = 1; i <= count; ++i) numbers.send(i);
      numbers.close();
    });

    // Stage 2: four squarers share the input; the last one out closes the output.
    weft::wait_group squarers;
    squarers.add(4);
    for (int s = 0; s < 4; ++s) {
      weft::spawn([numbers, squares, &squarers]() mutable {
        for (long n : numbers) squares.send(n * n);  // until numbers is closed and drained
        squarers.done();
      }).detach();
    }
    auto closer = weft::spawn([squares, &squarers]() mutable {
      squarers.wait();
      squares.close();
    });

    // Stage 3: sum, but never wait more than a second for the next value.
    long sum = 0;
    for (bool open = true; open;) {
      weft::select(weft::on_recv(squares,
                                 [&](std::optional<long> v) {
                                   if (v) {
                                     sum += *v;
                                   } else {
                                     open = false;  // closed and drained: done
                                   }
                                 }),
                   weft::on_timeout(1s, [&] {
                     std::puts("pipeline stalled: no value for 1 s");
                     open = false;
                   }));
    }
    generate.join();
    closer.join();
    return sum;
  });

  const long expected = count * (count + 1) * (2 * count + 1) / 6;
  std::printf("sum of squares 1..%ld = %ld (%s)\n", count, total,
              total == expected ? "ok" : "WRONG");
  return total == expected ? 0 : 1;
}
