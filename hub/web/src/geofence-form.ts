// form#geofence-form: names a drawn shape, renames a geofence, or confirms an edited one. The
// API's validation message is shown in the form; the shape stays on the map for fixing.

import { byId } from "./dom.ts";

export interface FormRequest {
  title: string;
  hint: string;
  name: string;
  /** Saves; a rejected promise's message is shown and the form stays open. */
  save(name: string): Promise<void>;
  cancel(): void;
}

export class GeofenceForm {
  private readonly form = byId<HTMLFormElement>("geofence-form");
  private readonly title = byId<HTMLElement>("geofence-form-title");
  private readonly hint = byId<HTMLElement>("geofence-form-hint");
  private readonly name = this.form.querySelector("input[name=name]") as HTMLInputElement;
  private readonly error = this.form.querySelector("[data-error]") as HTMLElement;
  private readonly saveButton = this.form.querySelector("[data-action=save]") as HTMLButtonElement;
  private request: FormRequest | null = null;

  constructor() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.submit();
    });
    this.form.querySelector("[data-action=cancel]")?.addEventListener("click", () => {
      const request = this.request;
      this.close();
      request?.cancel();
    });
    this.form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        const request = this.request;
        this.close();
        request?.cancel();
      }
    });
  }

  open(request: FormRequest): void {
    this.request = request;
    this.title.textContent = request.title;
    this.hint.textContent = request.hint;
    this.name.value = request.name;
    this.showError("");
    this.form.hidden = false;
    this.name.focus();
    this.name.select();
  }

  close(): void {
    this.request = null;
    this.form.hidden = true;
    this.showError("");
  }

  get isOpen(): boolean {
    return this.request !== null;
  }

  private async submit(): Promise<void> {
    const request = this.request;
    if (!request) return;
    const name = this.name.value.trim();
    if (!name) {
      this.showError("Give the geofence a name (1 to 200 characters).");
      return;
    }
    this.saveButton.disabled = true;
    this.showError("");
    try {
      await request.save(name);
      if (this.request === request) this.close();
    } catch (error) {
      this.showError((error as Error).message);
    } finally {
      this.saveButton.disabled = false;
    }
  }

  private showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = !message;
  }
}
