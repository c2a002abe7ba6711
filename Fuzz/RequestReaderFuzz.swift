// libFuzzer target: the request reader and the HTTP date and path parsers, on any bytes. Built by
// `make fuzz` with `swiftc -sanitize=fuzzer` together with MeetingModel's sources; a crash, an overflow
// trap or a hang is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch RequestParser().parse(bytes) {
    case let .success(.proposal(request)):
        precondition(!request.id.isEmpty && request.end > request.start, "a parsed proposal breaks its own invariants")
    case .success(.withdrawal), .failure:
        break
    }
    let text = String(decoding: bytes, as: UTF8.self)
    if let date = HTTPDate.parse(text) { precondition(HTTPDate.parse(HTTPDate.format(date)) == date) }
    if let path = FeedRequestPath.relative(text) { precondition(!path.split(separator: "/").contains { $0 == ".." || $0.hasPrefix(".") }) }
    return 0
}
