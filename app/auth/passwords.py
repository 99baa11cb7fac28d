"""The password policy, shared by forms and API schemas."""

MIN_LENGTH = 10
MAX_LENGTH = 128
# A few passwords that pass the length rule but are tried first by every attacker.
COMMON = {"password123", "password1234", "qwertyuiop", "1234567890", "letmein123", "iloveyou12", "welcome123"}


def password_problems(password: str, email: str | None = None) -> list[str]:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if password.isdigit() or password.isalpha():
        problems.append("Mix letters with digits or symbols.")
    if password.lower() in COMMON:
        problems.append("This password is too common.")
    if email and password.lower() == email.strip().lower():
        problems.append("The password must not be your e-mail address.")
    return problems
