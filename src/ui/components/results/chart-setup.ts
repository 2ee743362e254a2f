/**
 * The one place the page imports chart.js: only the controllers, elements, scales and plugins the
 * Results charts use are registered, so the rest of the library stays out of the bundle.
 */
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, ScatterController, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, ScatterController, Legend, Tooltip);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.color = '#5d6878';
Chart.defaults.borderColor = '#dde2ea';

export { Chart };
export type { ChartConfiguration, ChartType, DefaultDataPoint } from 'chart.js';

// Every chart here fills its box, and draws at once (no animation: numbers, not a show).
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.animation = false;
