#include "control_bindings.h"

#include <pybind11/eval.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>

#include "convert.h"
#include "json_values.h"
#include "pbxstate/control/client.h"

namespace pbxstate::python {
namespace {

namespace ctl = pbxstate::control;
using nlohmann::json;

constexpr const char* kControlErrorSource = R"PY(
class ControlError(RuntimeError):
    """pbxstated refused a request ("ok": false). code is the protocol's error code
    (invalid_argument, resource_exhausted, failed_precondition, bad_request, too_large), message
    its sentence, response the whole response as a dict."""

    def __init__(self, code, message, response):
        super().__init__(f"pbxstated: {code}: {message}")
        self.code = code
        self.message = message
        self.response = response
)PY";

// The request `op` with `fields`, checked by the daemon's own parser: a request the daemon would
// refuse as bad_request is refused here (ValueError naming the field) before it is sent.
ctl::Request BuildRequest(const std::string& op, const py::dict& fields) {
  json j = FromPython(fields, "request");
  if (j.contains("op")) throw py::value_error("give the op as the first argument, not as a field");
  j["op"] = op;
  auto parsed = ctl::ParseRequest(j.dump(-1, ' ', false, json::error_handler_t::replace));
  if (auto* e = std::get_if<ctl::Error>(&parsed)) throw py::value_error(e->message);
  return std::get<ctl::Request>(parsed);
}

// A response as a dict, decoded through the reply type of `op` (a response that does not fit is
// an error, never passed on half-read). A refusal is returned as it is.
py::dict ResponseDict(ctl::Op op, const json& response) {
  if (ctl::ResponseError(response)) return ToPython(response).cast<py::dict>();
  ctl::Reply reply;
  if (Status st = ctl::DecodeReply(op, response, &reply); !st.ok()) {
    throw std::runtime_error("a malformed '" + std::string(ctl::OpName(op)) + "' response: " + st.message());
  }
  return ToPython(ctl::EncodeReply(reply)).cast<py::dict>();
}

[[noreturn]] void RaiseControlError(const py::dict& response) {
  const py::object cls = py::module_::import("pbxstate.control").attr("ControlError");
  const py::object error = cls(response.attr("get")("code", "bad_request"), response.attr("get")("error", ""), response);
  PyErr_SetObject(cls.ptr(), error.ptr());
  throw py::error_already_set();
}

void Check(const Status& st) {
  if (!st.ok()) ThrowStatus(st);
}

class PyClient {
 public:
  PyClient(const std::string& path, double timeout, double connect_timeout)
      : timeout_(FromSeconds(timeout, "timeout")) {
    const Duration connect = FromSeconds(connect_timeout, "connect_timeout");
    Status st;
    {
      py::gil_scoped_release release;
      st = ctl::Client::Connect(path, connect, &client_);
    }
    if (!st.ok()) throw std::runtime_error(st.message());
  }

  // The response to one request, as a dict ("ok": false ones too).
  py::dict Request(const std::string& op, const py::dict& fields) {
    const ctl::Request r = BuildRequest(op, fields);
    return Exchange(r.op, ctl::RequestLine(r));
  }

  py::dict Call(const std::string& op, const py::dict& fields) {
    py::dict response = Request(op, fields);
    if (!response["ok"].cast<bool>()) RaiseControlError(response);
    return response;
  }

  // A line sent as it is (for tests of the daemon's refusals); the response undecoded.
  py::dict RequestLine(const std::string& line) {
    json response;
    Status st;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      st = Open().CallLine(line, timeout_, &response);
    }
    Check(st);
    return ToPython(response).cast<py::dict>();
  }

  py::list Pipeline(const py::list& requests, double timeout) {
    std::vector<ctl::Request> rs;
    for (const py::handle& item : requests) {
      py::dict d = item.cast<py::dict>();
      if (!d.contains("op")) throw py::value_error("every pipelined request needs an 'op'");
      const std::string op = d["op"].cast<std::string>();
      py::dict fields;
      for (auto kv : d) {
        if (kv.first.cast<std::string>() != "op") fields[kv.first] = kv.second;
      }
      rs.push_back(BuildRequest(op, fields));
    }
    const Duration t = FromSeconds(timeout, "timeout");
    std::vector<json> responses;
    Status st;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      st = Open().Pipeline(rs, t, &responses);
    }
    Check(st);
    py::list out;
    for (std::size_t i = 0; i < responses.size(); ++i) out.append(ResponseDict(rs[i].op, responses[i]));
    return out;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    client_.reset();
  }

 private:
  ctl::Client& Open() {
    if (!client_) throw std::runtime_error("the control connection is closed");
    return *client_;
  }
  py::dict Exchange(ctl::Op op, const std::string& line) {
    json response;
    Status st;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      st = Open().CallLine(line, timeout_, &response);
    }
    if (!st.ok()) throw std::runtime_error(st.message() + " (request '" + std::string(ctl::OpName(op)) + "')");
    return ResponseDict(op, response);
  }

  Duration timeout_;
  std::mutex mu_;
  std::unique_ptr<ctl::Client> client_;
};

class PyEventStream {
 public:
  PyEventStream(const std::string& path, double timeout) {
    const Duration t = FromSeconds(timeout, "timeout");
    Status st;
    {
      py::gil_scoped_release release;
      st = ctl::EventStream::Open(path, t, &stream_, &t_mono_ns_);
    }
    if (!st.ok()) throw std::runtime_error(st.message());
  }

  // The events that arrive within `timeout` seconds (0: only those already there), decoded.
  py::list Read(double timeout) {
    const Duration t = FromSeconds(timeout, "timeout");
    std::vector<ctl::Event> events;
    Status st;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      if (!stream_) {
        st = Status::FailedPrecondition("the event stream is closed");
      } else if (!closed_) {
        st = stream_->Wait(t, &events, &closed_);
      }
    }
    Check(st);
    py::list out;
    for (const ctl::Event& e : events) out.append(ToPython(ctl::EncodeEvent(e)));
    return out;
  }

  bool closed() const { return closed_; }
  std::int64_t t_mono_ns() const { return t_mono_ns_; }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    stream_.reset();
    closed_ = true;
  }

 private:
  std::mutex mu_;
  std::unique_ptr<ctl::EventStream> stream_;
  std::int64_t t_mono_ns_ = 0;
  bool closed_ = false;
};

}  // namespace

void BindControl(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "control",
      "pbxstated's control protocol (daemon/CONTROL.md) with the C++ library's codec (control/): requests\n"
      "are checked by the daemon's own parser before they are sent, responses and events decoded through\n"
      "their reply types and handed over as dicts.");
  py::exec(kControlErrorSource, m.attr("__dict__"));

  m.def("ops", [] {
    std::vector<std::string> names;
    for (const ctl::OpInfo& o : ctl::Ops()) names.emplace_back(o.name);
    return names;
  }, "Every op of the protocol, in CONTROL.md's order.");
  m.def("encode_request", [](const std::string& op, const py::kwargs& fields) {
    return ctl::RequestLine(BuildRequest(op, fields));
  }, py::arg("op"), "The request's line (newline included); ValueError naming a bad field.");
  m.def("decode_response", [](const std::string& op, const std::string& line) {
    const auto parsed_op = ctl::ParseOp(op);
    if (!parsed_op) throw py::value_error("unknown op '" + op + "'");
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) throw py::value_error("a response line that is not JSON");
    return ResponseDict(*parsed_op, j);
  }, py::arg("op"), py::arg("line"), "A response line of `op` decoded through its reply type, as a dict.");
  m.def("decode_event", [](const std::string& line) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) throw py::value_error("an event line that is not JSON");
    ctl::Event e;
    if (Status st = ctl::DecodeEvent(j, &e); !st.ok()) throw py::value_error(st.message());
    return ToPython(ctl::EncodeEvent(e));
  }, py::arg("line"), "An event line decoded, as a dict.");

  py::class_<PyClient>(m, "Client",
                       "One control connection. Client(path, timeout=5.0, connect_timeout=0.0): timeout bounds every\n"
                       "request; connect_timeout retries while the socket is not there yet.")
      .def(py::init<const std::string&, double, double>(), py::arg("path"), py::arg("timeout") = 5.0,
           py::arg("connect_timeout") = 0.0)
      .def("call", [](PyClient& c, const std::string& op, const py::kwargs& f) { return c.Call(op, f); },
           py::arg("op"), "The reply as a dict; ControlError when pbxstated refuses.")
      .def("request", [](PyClient& c, const std::string& op, const py::kwargs& f) { return c.Request(op, f); },
           py::arg("op"), "The response as a dict, a refusal (\"ok\": False) included.")
      .def("request_line", &PyClient::RequestLine, py::arg("line"),
           "Sends `line` as it is (no client-side check) and returns the response dict.")
      .def("pipeline", &PyClient::Pipeline, py::arg("requests"), py::arg("timeout") = 60.0,
           "Sends every request dict ({'op': ..., fields}) while reading the responses; returns them in order.")
      .def("close", &PyClient::Close)
      .def("__enter__", [](PyClient& c) -> PyClient& { return c; }, py::return_value_policy::reference)
      .def("__exit__", [](PyClient& c, const py::args&) { c.Close(); });

  py::class_<PyEventStream>(m, "EventStream",
                            "A `subscribe` connection. EventStream(path, timeout=5.0); read(timeout) returns the events\n"
                            "that arrived (dicts), closed tells whether pbxstated ended the stream.")
      .def(py::init<const std::string&, double>(), py::arg("path"), py::arg("timeout") = 5.0)
      .def("read", &PyEventStream::Read, py::arg("timeout") = 0.0)
      .def_property_readonly("closed", &PyEventStream::closed)
      .def_property_readonly("t_mono_ns", &PyEventStream::t_mono_ns)
      .def("close", &PyEventStream::Close);
}

}  // namespace pbxstate::python
