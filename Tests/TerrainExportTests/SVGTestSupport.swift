import Foundation
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A parsed SVG: every element with its attributes, its own text, and its ancestors' names.
struct ParsedSVG {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text: String
        var ancestorClasses: [String]

        var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
    }

    var elements: [Element]

    func elements(named name: String) -> [Element] { elements.filter { $0.name == name } }
    func elements(withClass cls: String) -> [Element] { elements.filter { $0.classes.contains(cls) } }
    func texts() -> [String] { elements(named: "text").map(\.text) }
}

/// Collects elements with XMLParser (available on Linux through FoundationXML).
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [ParsedSVG.Element] = []
    var stack: [Int] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        let ancestors = stack.flatMap { elements[$0].classes }
        elements.append(.init(name: elementName, attributes: attributeDict, text: "", ancestorClasses: ancestors))
        stack.append(elements.count - 1)
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        // Text of a <tspan> also belongs to its enclosing <text>.
        for index in stack { if elements[index].name == "text" { elements[index].text += string } }
        if let top = stack.last, elements[top].name != "text" { elements[top].text += string }
    }
}

/// Parses `svg` as XML, failing the test when it is not well-formed or when the root is not
/// an `<svg>` element with a namespace, size and view box.
func parseSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> ParsedSVG {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = SVGCollector()
    parser.delegate = collector
    let ok = parser.parse()
    XCTAssertTrue(ok, "not well-formed XML: \(String(describing: parser.parserError))", file: file, line: line)
    let root = collector.elements.first
    XCTAssertEqual(root?.name, "svg", file: file, line: line)
    XCTAssertEqual(root?.attributes["xmlns"], "http://www.w3.org/2000/svg", file: file, line: line)
    XCTAssertNotNil(root?.attributes["width"], file: file, line: line)
    XCTAssertNotNil(root?.attributes["height"], file: file, line: line)
    XCTAssertNotNil(root?.attributes["viewBox"], file: file, line: line)
    return ParsedSVG(elements: collector.elements)
}
