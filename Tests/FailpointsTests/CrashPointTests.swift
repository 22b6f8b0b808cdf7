import Foundation
import Testing
@testable import Failpoints

/// `RESTORE_CONSOLE_CRASH_AT` as the crash campaigns write it, and a pass that nothing armed.
@Suite struct CrashPointTests {
    @Test func everyPointIsArmedByItsNameAndACount() {
        for point in CrashPoint.allCases {
            let armed = CrashPoint.arming("\(point.rawValue):3")
            #expect(armed?.point == point && armed?.count == 3, "\(point.rawValue)")
        }
    }

    @Test(arguments: ["split", "split:", "split:0", "split:-1", "split:x", "nosuch:1", ":1", "split:1:2", ""])
    func aMalformedSpecArmsNothing(spec: String) {
        #expect(CrashPoint.arming(spec) == nil)
    }

    /// The test process has no spec in its environment: a pass is free, however many times.
    @Test func aPassThatNothingArmedGoesOn() {
        #expect(ProcessInfo.processInfo.environment[CrashPoint.environmentVariable] == nil)
        for point in CrashPoint.allCases { for _ in 0..<1_000 { point.pass() } }
    }
}
