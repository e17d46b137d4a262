#include "protocol/input_member_name.hpp"

#include <gtest/gtest.h>

namespace meterd {
namespace {

TEST(InputMemberName, OrdinaryNamesAreSafe) {
  for (const char* name : {"a.csv", "dir/sub/NEM12#1#A#B.csv", "..hidden", "a..b/c", "./x.csv",
                           "dir\\file.csv", "NEM12 with spaces.csv", "caf\xc3\xa9.csv"})
    EXPECT_EQ(unsafe_member_name_reason(name, 255), "") << name;
}

TEST(InputMemberName, EscapingOrAbsoluteNamesAreUnsafe) {
  for (const char* name : {"..", "../x", "a/../../x", "a/..", "..\\x", "a\\..\\x"})
    EXPECT_NE(unsafe_member_name_reason(name, 255).find("\"..\""), std::string::npos) << name;
  for (const char* name : {"/etc/passwd", "\\share\\x", "C:x.csv", "d:\\x"})
    EXPECT_NE(unsafe_member_name_reason(name, 255).find("absolute"), std::string::npos) << name;
}

TEST(InputMemberName, ControlCharactersEmptyAndOverlongNamesAreUnsafe) {
  EXPECT_NE(unsafe_member_name_reason("a\nb", 255).find("0x0a"), std::string::npos);
  EXPECT_NE(unsafe_member_name_reason("a\x7f", 255).find("0x7f"), std::string::npos);
  EXPECT_NE(unsafe_member_name_reason("", 255).find("empty"), std::string::npos);
  EXPECT_EQ(unsafe_member_name_reason(std::string(255, 'x'), 255), "");
  EXPECT_NE(unsafe_member_name_reason(std::string(256, 'x'), 255).find("256 bytes"),
            std::string::npos);
}

TEST(InputMemberName, PrintableNamesEscapeControlsAndCutHostileLengths) {
  EXPECT_EQ(printable_member_name("dir/a.csv"), "dir/a.csv");
  EXPECT_EQ(printable_member_name("a\nb\x1b"), "a\\x0ab\\x1b");
  const std::string shown = printable_member_name(std::string(70000, 'x'));
  EXPECT_EQ(shown, std::string(300, 'x') + "...");
}

}  // namespace
}  // namespace meterd
