// The way in: a token typed into form#login, or a one-time `#login=CODE` link exchanged for a
// token through POST /api/v1/login. The fragment never reaches the server and is removed at once.

import { Api, ApiError } from "./api.ts";
import { storedToken, storeToken } from "./session.ts";

/** Takes `#login=CODE` off the address (without a reload) and returns the code, if any. */
function takeLoginCode(): string | null {
  const match = /^#login=([^&]+)$/.exec(location.hash);
  if (!match?.[1]) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

/** Exchanges a one-time code; the error says why it did not work. */
async function exchange(code: string): Promise<string> {
  const answer = await new Api(() => null).request<{ token?: unknown }>("POST", "/api/v1/login", {
    code,
  });
  if (typeof answer.token !== "string") throw new ApiError(500, "the hub answered no token");
  return answer.token;
}

export class LoginForm {
  private readonly form = document.querySelector<HTMLFormElement>("form#login") as HTMLFormElement;
  private readonly input = this.form.querySelector<HTMLInputElement>(
    "input[name=token]",
  ) as HTMLInputElement;
  private readonly error = this.form.querySelector<HTMLElement>("[data-error]") as HTMLElement;
  private submitted: ((token: string) => void) | null = null;

  constructor() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const token = this.input.value.trim();
      if (!token) {
        this.showError("Enter an access token (admin or read).");
        return;
      }
      this.submitted?.(token);
    });
  }

  /**
   * A token to try: the one kept for this session, a login link's, or one typed in.
   * `reason` is shown on the form (why the previous token did not work).
   */
  async ask(reason?: string): Promise<string> {
    const code = takeLoginCode();
    if (code) {
      try {
        const token = await exchange(code);
        storeToken(token);
        return token;
      } catch (error) {
        reason = `This login link did not work: ${(error as Error).message}`;
      }
    }
    const kept = storedToken();
    if (kept && !reason) return kept;
    return this.prompt(reason);
  }

  /** Shows the form until a token is entered; the caller checks it with the hub. */
  private prompt(reason?: string): Promise<string> {
    this.show(true);
    this.showError(reason ?? "");
    this.input.focus();
    return new Promise((resolve) => {
      this.submitted = (token) => {
        this.submitted = null;
        storeToken(token);
        resolve(token);
      };
    });
  }

  showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  show(visible: boolean): void {
    document.body.classList.toggle("logged-out", visible);
    if (visible) this.input.value = "";
  }
}
