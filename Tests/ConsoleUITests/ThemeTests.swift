import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct ThemeTests {
    let themes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Themes").path

    @Test func everyShippedThemeParses() throws {
        for name in Theme.cycle {
            let theme = try Theme.load(name, directories: [themes])
            #expect(theme.name == name)
        }
    }

    @Test func missingRolesFallBackOneByOne() throws {
        let theme = try Theme.parse("name = \"x\"\nerror = { fg = \"#00ff00\" }\n", source: "x.toml")
        #expect(theme[.error].fg == .rgb(0, 255, 0))
        #expect(theme[.ok] == Theme.fallback[.ok])
        let mono = try Theme.load("mono", directories: [themes])
        #expect(mono[.ok].fg == .terminalDefault)
    }

    @Test func badThemesAreClearErrors() {
        #expect(throws: ThemeError.unknownRole(source: "t", role: "sparkles")) { try Theme.parse("sparkles = { fg = \"red\" }", source: "t") }
        #expect { try Theme.parse("ok = { fg = \"mauve-ish\" }", source: "t") } throws: { "\($0)".contains("#rrggbb") }
        #expect { try Theme.parse("ok = [", source: "t") } throws: { $0 is ThemeError }
        #expect { try Theme.load("nope", directories: [themes]) } throws: { "\($0)".contains("not found") }
    }

    @Test func colourDepthDegrades() {
        #expect(ColorDepth.detect(environment: ["NO_COLOR": "1"], terminalColors: 256, canChangeColor: true) == .monochrome)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 0, canChangeColor: false) == .monochrome)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 8, canChangeColor: false) == .eight)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 256, canChangeColor: false) == .palette256)
        #expect(ColorDepth.detect(environment: ["COLORTERM": "truecolor"], terminalColors: 256, canChangeColor: true) == .truecolor)
        #expect(ColorDepth.palette256.index(of: .rgb(255, 0, 0)) == 196)
        #expect(ColorDepth.palette256.index(of: .rgb(128, 128, 128)) == 244)
        #expect(ColorDepth.eight.index(of: .rgb(255, 0, 0)) == 1)
        #expect(ColorDepth.eight.index(of: .palette(9)) == 1)
        #expect(ColorDepth.palette256.index(of: .terminalDefault) == -1)
    }
}
