// The generated NEM12 file that `meterd generate` and `meterd bench` write.
#include <gtest/gtest.h>

#include <filesystem>

#include "app/nem12_file.hpp"
#include "tests/test_support.hpp"

namespace meterd::app {
namespace {

TEST(Generator, ChunkedFileAndStringOutputAgree) {
  GeneratorOptions o;  // as generator_test's everything(5)
  o.seed = 5;
  o.days = 20;
  o.interval_minutes = 5;
  o.suffixes = {"E1", "B1", "Q1"};
  o.nmis = 40;  // > 1 MiB, so several chunks
  o.v_day_fraction = 0.2;
  o.b2b_fraction = 0.2;
  o.malformed_fraction = 0.1;
  o.resent_day_fraction = 0.1;
  GeneratorStats from_string;
  const std::string text = generate_nem12_string(o, &from_string);
  ASSERT_GT(text.size(), std::size_t{3} << 20);

  const auto dir = test::make_temp_dir("generator_test");
  const GeneratorStats from_file = generate_nem12_file(o, dir / "g.csv");
  EXPECT_EQ(test::read_file(dir / "g.csv"), text);
  EXPECT_EQ(from_file.readings, from_string.readings);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meterd::app
