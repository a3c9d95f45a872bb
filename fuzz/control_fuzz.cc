// libFuzzer target: any bytes as a control-plane message (what a stranger
// on the ROUTER/PUB sockets can send): decoded as each message type the
// scheduler and the actors read. A decoded message encodes again, and that
// encoding decodes to the same encoding (no field is lost or changed).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "brokers/control.h"
#include "messages/json.h"

namespace {
template <class T>
void round_trip(ctk::msg::json_decoder& dec, std::string_view body) {
  T value;
  ctk::msg::decode_error err;
  if (!dec.decode(body, value, err)) return;
  std::string once, twice;
  if (!ctk::msg::encode(value, once)) return;  // NaN and the like: refused by the encoder, not sent
  T again;
  if (!dec.decode(once, again, err) || !ctk::msg::encode(again, twice) || once != twice) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ctk::msg::json_decoder dec;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  round_trip<ctk::control::heartbeat>(dec, body);
  round_trip<ctk::control::status_reply>(dec, body);
  ctk::control::command c;
  ctk::msg::decode_error err;
  if (dec.decode(body, c, err)) {
    c.check();
    c.matches("local/validator/0");
  }
  round_trip<ctk::control::command>(dec, body);
  return 0;
}
