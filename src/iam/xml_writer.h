// The XML of AWS Query protocol answers (IAM, STS), written once: elements
// nest, text is escaped, nothing else (no attributes but xmlns, no
// declarations). Not thread-safe; one writer per answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::iam {

// `text` as XML character data or an attribute value: & < > " ' become
// entity references, \r becomes &#13; (kept through parsing), and the control
// characters XML 1.0 cannot carry at all become U+FFFD.
std::string xml_escape(std::string_view text);

class XmlWriter {
 public:
  // Opens <name> (with xmlns="..." when `xmlns` is not empty).
  XmlWriter& open(std::string_view name, std::string_view xmlns = {});
  // Closes the innermost open element; a no-op when none is open.
  XmlWriter& close();
  // <name>text</name>, the text escaped.
  XmlWriter& element(std::string_view name, std::string_view text);
  // Appends `xml` as is: what another XmlWriter wrote (an action's result,
  // placed in its response), never text from a request.
  XmlWriter& raw(std::string_view xml);
  // Everything written, with every element still open closed; the writer is
  // empty afterwards.
  std::string take();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace berth::iam
