#include "iam/xml_writer.h"

#include <utility>

namespace berth::iam {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "\xEF\xBF\xBD";  // U+FFFD: XML 1.0 has no way to carry it
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

XmlWriter& XmlWriter::open(std::string_view name, std::string_view xmlns) {
  out_.push_back('<');
  out_.append(name);
  if (!xmlns.empty()) {
    out_.append(" xmlns=\"");
    out_.append(xml_escape(xmlns));
    out_.push_back('"');
  }
  out_.push_back('>');
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::close() {
  if (open_.empty()) return *this;
  out_.append("</");
  out_.append(open_.back());
  out_.push_back('>');
  open_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::string_view text) {
  out_.push_back('<');
  out_.append(name);
  out_.push_back('>');
  out_.append(xml_escape(text));
  out_.append("</");
  out_.append(name);
  out_.push_back('>');
  return *this;
}

XmlWriter& XmlWriter::raw(std::string_view xml) {
  out_.append(xml);
  return *this;
}

std::string XmlWriter::take() {
  while (!open_.empty()) close();
  return std::exchange(out_, std::string());
}

}  // namespace berth::iam
