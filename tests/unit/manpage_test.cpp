// docs/connreset.8 names every cause of the catalog, and nothing else, under CAUSES.
// (Subcommands, options and exit statuses: tests/install/check_manpage.py, from --help.)
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "explain/causes.h"

namespace connreset {
namespace {

// The ids of the `.TP` / `.B id` entries of `.SH CAUSES`.
std::set<std::string> manpage_cause_ids() {
  std::ifstream in(CONNRESET_MANPAGE);
  EXPECT_TRUE(in) << "cannot read " << CONNRESET_MANPAGE;
  std::set<std::string> ids;
  bool in_causes = false, after_tp = false;
  static const std::regex entry(R"(^\.B ([a-z0-9_]+)\s*$)");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(".SH", 0) == 0) in_causes = line.find("CAUSES") != std::string::npos;
    std::smatch m;
    if (in_causes && after_tp && std::regex_match(line, m, entry)) ids.insert(m[1]);
    after_tp = line == ".TP";
  }
  return ids;
}

TEST(ManPage, NamesEveryCauseOfTheCatalog) {
  const auto ids = manpage_cause_ids();
  for (const CauseInfo& c : cause_catalog()) {
    EXPECT_TRUE(ids.count(std::string(c.id)))
        << CONNRESET_MANPAGE << ": cause `" << c.id << "` is missing: add\n.TP\n.B " << c.id
        << "\n" << c.meaning << "\nunder `.SH CAUSES`";
  }
}

TEST(ManPage, NamesNoCauseTheCatalogLacks) {
  std::set<std::string> catalog;
  for (const CauseInfo& c : cause_catalog()) catalog.insert(std::string(c.id));
  for (const std::string& id : manpage_cause_ids()) {
    EXPECT_TRUE(catalog.count(id)) << CONNRESET_MANPAGE << ": `.SH CAUSES` lists `" << id
                                   << "`, which is not in the cause catalog: remove or rename it";
  }
}

}  // namespace
}  // namespace connreset
