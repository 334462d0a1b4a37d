// The dlc tool's numbers read strictly (ir/number_text.h): --batch and
// --seed of compile, print, opt and gradcheck, and DLC_CODEGEN_THREADS. Each
// case here was once clamped, wrapped or read as a prefix by strtoll/atoi.
#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace dlc {
namespace {

struct Case {
  std::string command;  ///< after "dlc "; MODEL stands for the model path
  int rc;
  std::string message;
};

TEST(DlcNumericFlags, OutOfRangeAndMalformedNumbersNameFlagAndValue) {
  const std::string model = test::source_path("models/softmax_regression.pbtxt");
  const std::string out_file = test::temp_dir() + "/m.dlc";
  const Case cases[] = {
      {"compile MODEL -o OUT --batch 99999999999999999999", 1,
       "dlc compile: --batch: '99999999999999999999' is out of range: must be in 1..2147483647"},
      {"compile MODEL -o OUT --batch 0", 1, "dlc compile: --batch: '0' is out of range"},
      {"compile MODEL -o OUT --batch 8x", 1, "dlc compile: --batch: '8x' is not a whole number"},
      {"compile MODEL -o OUT --seed -1", 1, "dlc compile: --seed: '-1' is not a whole number >= 0"},
      {"print MODEL --batch 99999999999999999999", 2, "dlc print: --batch: '99999999999999999999' is out of range"},
      {"opt --passes cse MODEL --batch 99999999999999999999", 2,
       "dlc opt: --batch: '99999999999999999999' is out of range"},
      {"gradcheck MODEL --seed -1", 2, "dlc gradcheck: --seed: '-1' is not a whole number >= 0"},
      {"gradcheck MODEL --elements 99999999999999999999", 2,
       "dlc gradcheck: --elements: '99999999999999999999' is out of range"},
      {"gradcheck MODEL --eps nan", 2, "dlc gradcheck: --eps: 'nan' is not finite"},
  };
  for (Case c : cases) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"MODEL", model}, {"OUT", out_file}})
      if (size_t at = c.command.find(key); at != std::string::npos) c.command.replace(at, key.size(), value);
    std::string out;
    int rc = test::run_command(test::tool_path("dlc") + " " + c.command, &out);
    EXPECT_EQ(rc, c.rc) << c.command << "\n" << out;
    EXPECT_NE(out.find(c.message), std::string::npos) << c.command << "\n" << out;
  }
}

TEST(DlcNumericFlags, CodegenThreadsVariableIsReadStrictly) {
  const std::string model = test::source_path("models/softmax_regression.pbtxt");
  std::string out;
  int rc = test::run_command("DLC_CODEGEN_THREADS=8x " + test::tool_path("dlc") + " compile " + model +
                                 " --target cpu --batch 4 -o " + test::temp_dir() + "/m.dlc",
                             &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("DLC_CODEGEN_THREADS: '8x' is not a whole number"), std::string::npos) << out;
}

}  // namespace
}  // namespace dlc
