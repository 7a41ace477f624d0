// sipmetrics-ctl: look into a segment without HTTP.
//   sipmetrics-ctl inspect [--segment NAME|PATH] [--json]
#include <sys/stat.h>

#include <cstdio>
#include <exception>
#include <string>
#include <variant>

#include <CLI/CLI.hpp>

#include <sipmetrics/segment/file.hpp>
#include <sipmetrics/segment/naming.hpp>

#include "inspect.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"sipmetrics-ctl: operator tools for a sipmetrics shared-memory segment"};
  app.require_subcommand(1);
  std::string segment;
  bool json = false;
  CLI::App* inspect = app.add_subcommand(
      "inspect",
      "Print the segment's header, capacities and use, refusals, drops and writers "
      "(pid, name, alive or dead, lanes)");
  inspect->add_option("--segment", segment, "Segment name or file path (default: sipmetrics)")
      ->envname("SIPMETRICS_SEGMENT");
  inspect->add_flag("--json", json, "Print JSON instead of text");
  app.footer(
      "Exit status: 0 on success (and for --help); 2 for a bad command line; 1 when the "
      "segment cannot be read.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // not CLI11's own codes (105 to 127 by error)
  }

  if (segment.empty()) segment = sipmetrics::detail::default_segment_name();
  const std::string file =
      sipmetrics::detail::segment_is_path(segment) ? segment : "/dev/shm/" + segment;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    std::fprintf(stderr, "sipmetrics-ctl: no segment '%s' (%s does not exist)\n", segment.c_str(),
                 file.c_str());
    return 1;
  }
  // Read-only: inspecting never creates, resizes or initialises a segment, whatever it finds.
  auto opened = sipmetrics::detail::SegmentFile::open_read_only(segment);
  if (auto* err = std::get_if<sipmetrics::detail::OpenError>(&opened)) {
    std::fprintf(stderr, "sipmetrics-ctl: %s\n", err->message.c_str());
    return 1;
  }
  const auto& f = std::get<std::unique_ptr<sipmetrics::detail::SegmentFile>>(opened);
  const sipmetrics::SegmentReport r = sipmetrics::make_report(segment, f->view(), f->fd());
  const std::string out = json ? sipmetrics::format_json(r) : sipmetrics::format_text(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sipmetrics-ctl: fatal: %s\n", e.what());
    return 1;
  }
}
