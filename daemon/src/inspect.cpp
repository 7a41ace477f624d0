#include "inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <sipmetrics/segment/liveness.hpp>

#include "snapshot.hpp"
#include "text_format.hpp"

namespace sipmetrics {

const char* const kRefusalNames[layout::kRefusalKinds] = {
    "catalog_full",    "arena_full",     "cells_full",     "invalid_name", "writers_full",
    "lanes_full",      "whitelist_full", "type_conflict",  "family_full",  "label_too_long",
    "duplicate_label", "reserved_label", "invalid_buckets"};

namespace {

std::string iso_time(std::uint64_t unix_ns) {
  if (unix_ns == 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_ns / 1'000'000'000u);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Writer names are any bytes a worker chose: make them printable, valid UTF-8, one line.
std::string printable(const std::string& s) {
  std::string out;
  append_label_value(out, s);
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : printable(s)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : printable(s)) {
    if (c == '"')
      out += "\\\"";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;  // printable() already turned \ into \\ and \n into \n
  }
  return out + "\"";
}

}  // namespace

SegmentReport make_report(const std::string& name, const detail::SegmentView& view, int fd) {
  SegmentReport r;
  const layout::Header& h = view.header();
  const layout::Geometry& g = view.geometry();
  r.segment = name;
  r.version_major = h.version_major;
  r.version_minor = h.version_minor;
  r.generation = h.generation;
  r.size_bytes = view.size();
  r.created_unix_ns = h.created_unix_ns;
  r.daemon_pid = h.daemon_pid.load(std::memory_order_relaxed);
  r.daemon_alive = detail::byte_locked(fd, layout::kDaemonLockByte);
  r.geometry = g;
  r.series = std::min<std::uint64_t>(h.series_count.load(std::memory_order_relaxed), g.max_series);
  r.cells = std::min<std::uint64_t>(h.cells_used.load(std::memory_order_relaxed), g.max_cells);
  r.arena_bytes =
      std::min<std::uint64_t>(h.arena_used.load(std::memory_order_relaxed), g.arena_bytes);
  r.whitelists =
      std::min<std::uint64_t>(h.whitelist_count.load(std::memory_order_relaxed), g.max_whitelists);
  for (std::uint32_t i = 0; i < layout::kRefusalKinds; ++i)
    r.refusals[i] = h.refusals[i].load(std::memory_order_relaxed);
  r.dropped_samples = dropped_samples(view);
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l)  // the spill lane is no writer's
    r.lanes_in_use += lane_counted(view, l) ? 1 : 0;
  r.writers_exited = h.writers_folded.load(std::memory_order_relaxed);
  r.writers = WriterTracker(view, fd).writers();
  return r;
}

std::string format_text(const SegmentReport& r) {
  const layout::Geometry& g = r.geometry;
  std::string out;
  char line[256];
  auto put = [&out, &line](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  put("segment        %s\n", printable(r.segment).c_str());
  put("layout         %u.%u  generation %llu  size %llu bytes  created %s\n", r.version_major,
      r.version_minor, static_cast<unsigned long long>(r.generation),
      static_cast<unsigned long long>(r.size_bytes), iso_time(r.created_unix_ns).c_str());
  if (r.daemon_alive)
    put("daemon         running (pid %u in its own PID namespace)\n", r.daemon_pid);
  else
    out += "daemon         not running\n";
  put("series         %llu / %u\n", static_cast<unsigned long long>(r.series), g.max_series);
  put("cells          %llu / %u\n", static_cast<unsigned long long>(r.cells), g.max_cells);
  put("arena bytes    %llu / %llu\n", static_cast<unsigned long long>(r.arena_bytes),
      static_cast<unsigned long long>(g.arena_bytes));
  put("whitelists     %llu / %u\n", static_cast<unsigned long long>(r.whitelists),
      g.max_whitelists);
  put("lanes          %llu / %u (%u per writer; and the spill lane)\n",
      static_cast<unsigned long long>(r.lanes_in_use), layout::spill_lane(g), g.lanes_per_writer);
  put("ring capacity  %u samples per lane\n", g.ring_capacity);
  put("dropped        %llu summary samples\n", static_cast<unsigned long long>(r.dropped_samples));
  out += "refusals      ";
  for (std::uint32_t i = 0; i < layout::kRefusalKinds; ++i)
    put(" %s=%llu", kRefusalNames[i], static_cast<unsigned long long>(r.refusals[i]));
  out += '\n';
  std::size_t alive = 0;
  for (const WriterInfo& w : r.writers) alive += w.alive ? 1 : 0;
  put("writers        %zu alive, %zu dead awaiting fold, %u slots, %llu exited so far\n", alive,
      r.writers.size() - alive, g.max_writers, static_cast<unsigned long long>(r.writers_exited));
  if (!r.writers.empty())
    put("  %-5s %-8s %-6s %-5s %-20s %s\n", "slot", "pid", "state", "lanes", "attached", "name");
  for (const WriterInfo& w : r.writers)
    put("  %-5u %-8u %-6s %-5u %-20s %s\n", w.slot, w.pid, w.alive ? "alive" : "DEAD", w.lanes,
        iso_time(w.attached_unix_ns).c_str(), printable(w.name).c_str());
  return out;
}

std::string format_json(const SegmentReport& r) {
  const layout::Geometry& g = r.geometry;
  std::string out = "{";
  auto num = [&out](const char* key, std::uint64_t v, bool comma = true) {
    out += "\"";
    out += key;
    out += "\":" + std::to_string(v) + (comma ? "," : "");
  };
  out += "\"segment\":" + json_string(r.segment) + ",";
  out += "\"layout\":\"" + std::to_string(r.version_major) + "." + std::to_string(r.version_minor) +
         "\",";
  num("generation", r.generation);
  num("size_bytes", r.size_bytes);
  out += "\"created\":\"" + iso_time(r.created_unix_ns) + "\",";
  out += std::string("\"daemon_running\":") + (r.daemon_alive ? "true" : "false") + ",";
  out += "\"used\":{";
  num("series", r.series);
  num("cells", r.cells);
  num("arena_bytes", r.arena_bytes);
  num("whitelists", r.whitelists);
  num("lanes", r.lanes_in_use, false);
  out += "},\"capacity\":{";
  num("series", g.max_series);
  num("cells", g.max_cells);
  num("arena_bytes", g.arena_bytes);
  num("whitelists", g.max_whitelists);
  num("lanes", layout::spill_lane(g));
  num("lanes_per_writer", g.lanes_per_writer);
  num("ring_capacity", g.ring_capacity);
  num("writers", g.max_writers, false);
  out += "},\"refusals\":{";
  for (std::uint32_t i = 0; i < layout::kRefusalKinds; ++i)
    num(kRefusalNames[i], r.refusals[i], i + 1 < layout::kRefusalKinds);
  out += "},";
  num("dropped_samples", r.dropped_samples);
  num("writers_exited", r.writers_exited);
  out += "\"writers\":[";
  for (std::size_t i = 0; i < r.writers.size(); ++i) {
    const WriterInfo& w = r.writers[i];
    out += i ? ",{" : "{";
    num("slot", w.slot);
    num("pid", w.pid);
    out += "\"name\":" + json_string(w.name) + ",";
    out += std::string("\"alive\":") + (w.alive ? "true" : "false") + ",";
    num("lanes", w.lanes);
    out += "\"attached\":\"" + iso_time(w.attached_unix_ns) + "\"}";
  }
  out += "]}\n";
  return out;
}

std::string format_html(const SegmentReport& r) {
  const layout::Geometry& g = r.geometry;
  std::string out =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>sipmetricsd</title>"
      "<meta http-equiv=\"refresh\" content=\"5\"><style>"
      "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
      "table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid "
      "#ddd;"
      "text-align:left}th{background:#f4f4f4}.dead{color:#b00;font-weight:bold}.alive{color:#070}"
      "</style></head><body><h1>sipmetricsd</h1>"
      "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/healthz\">/healthz</a></p>";
  auto row = [&out](const std::string& k, const std::string& v) {
    out += "<tr><th>" + k + "</th><td>" + v + "</td></tr>";
  };
  auto frac = [](std::uint64_t used, std::uint64_t cap) {
    return std::to_string(used) + " / " + std::to_string(cap);
  };
  out += "<h2>Segment</h2><table>";
  row("segment", html_escape(r.segment));
  row("layout", std::to_string(r.version_major) + "." + std::to_string(r.version_minor));
  row("size", std::to_string(r.size_bytes >> 20) + " MiB");
  row("created", iso_time(r.created_unix_ns));
  row("series", frac(r.series, g.max_series));
  row("cells", frac(r.cells, g.max_cells));
  row("arena bytes", frac(r.arena_bytes, g.arena_bytes));
  row("lanes", frac(r.lanes_in_use, layout::spill_lane(g)));
  row("dropped samples", std::to_string(r.dropped_samples));
  std::string refusals;
  for (std::uint32_t i = 0; i < layout::kRefusalKinds; ++i)
    if (r.refusals[i] != 0)
      refusals += std::string(kRefusalNames[i]) + "=" + std::to_string(r.refusals[i]) + " ";
  row("refusals", refusals.empty() ? "none" : refusals);
  row("writers exited", std::to_string(r.writers_exited));
  out +=
      "</table><h2>Writers</h2><table id=\"writers\"><tr><th>slot</th><th>pid</th><th>name</th>"
      "<th>state</th><th>lanes</th><th>attached</th></tr>";
  for (const WriterInfo& w : r.writers) {
    out += "<tr><td>" + std::to_string(w.slot) + "</td><td>" + std::to_string(w.pid) + "</td><td>" +
           html_escape(w.name) + "</td><td class=\"" + (w.alive ? "alive\">alive" : "dead\">dead") +
           "</td><td>" + std::to_string(w.lanes) + "</td><td>" + iso_time(w.attached_unix_ns) +
           "</td></tr>";
  }
  if (r.writers.empty()) out += "<tr><td colspan=\"6\">no writer attached</td></tr>";
  out += "</table></body></html>\n";
  return out;
}

}  // namespace sipmetrics
