/// One input from the terminal.
public enum KeyEvent: Equatable, Sendable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab
    case resize
    case mouseClick(x: Int, y: Int)
    case wheelUp, wheelDown
}
