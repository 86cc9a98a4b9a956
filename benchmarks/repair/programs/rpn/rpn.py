"""A tiny calculator: tokenize infix arithmetic, convert to RPN (shunting-yard), evaluate."""

PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 3}
RIGHT_ASSOCIATIVE = {"^"}


def tokenize(text: str) -> list[str]:
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or ch == ".":
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(text[i:j])
            i = j
        elif ch in PRECEDENCE or ch in "()":
            tokens.append(ch)
            i += 1
        else:
            raise ValueError(f"unexpected character {ch!r}")
    return tokens


def to_rpn(tokens: list[str]) -> list[str]:
    output, stack = [], []
    for tok in tokens:
        if tok in PRECEDENCE:
            while stack and stack[-1] in PRECEDENCE and (
                PRECEDENCE[stack[-1]] > PRECEDENCE[tok]
                or (PRECEDENCE[stack[-1]] == PRECEDENCE[tok] and tok not in RIGHT_ASSOCIATIVE)
            ):
                output.append(stack.pop())
            stack.append(tok)
        elif tok == "(":
            stack.append(tok)
        elif tok == ")":
            while stack and stack[-1] != "(":
                output.append(stack.pop())
            if not stack:
                raise ValueError("unbalanced parentheses")
            stack.pop()
        else:
            output.append(tok)
    while stack:
        tok = stack.pop()
        if tok == "(":
            raise ValueError("unbalanced parentheses")
        output.append(tok)
    return output


def apply(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    return left ** right


def evaluate(text: str) -> float:
    stack: list[float] = []
    for tok in to_rpn(tokenize(text)):
        if tok in PRECEDENCE:
            right = stack.pop()
            left = stack.pop()
            stack.append(apply(tok, left, right))
        else:
            stack.append(float(tok))
    if len(stack) != 1:
        raise ValueError("malformed expression")
    return stack[0]
