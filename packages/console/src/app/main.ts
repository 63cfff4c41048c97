import { mount } from "svelte";
import App from "./App.svelte";
import { ZOD_JITLESS } from "./lib/zod-config.ts";
import "./styles.css";

if (!ZOD_JITLESS) console.warn("zod is not jitless: the CSP will report its eval probe");
const target = document.getElementById("app");
if (target === null) throw new Error("the page has no #app element");
mount(App, { target });
