#!/usr/bin/env Rscript
## Reference outputs of R's survival package on the real TCGA-LGG table (tests/data/survival/).
## Tests: tests/radiogenomics/test_survival.py, test_survival_group_levels.py.
##
## Run from anywhere:   Rscript tests/data/survival/make_reference.R [OUTDIR]
## OUTDIR defaults to this folder (overwrites the CSVs); give a scratch folder to compare.
## Made with R 4.2.2 Patched, survival 3.5.3 (Debian: apt-get install r-base-core r-cran-survival).
## Adapted from shared/reference/scripts/lgg_survival.R: input read from the repository's
## data/tcga_lgg/, output to OUTDIR; files the tests do not use (Breslow fit, printed output,
## value counts) are not written.
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
HERE <- dirname(normalizePath(self))
ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
suppressPackageStartupMessages(library(survival))
OUT <- if (length(args)) args[1] else HERE
dir.create(OUT, showWarnings = FALSE, recursive = TRUE)
d0 <- read.csv(file.path(ROOT, "data/tcga_lgg/tcgabiolinks_lgg_gbm_subtype_Ceccarelli2016.csv"),
               stringsAsFactors = FALSE, na.strings = c("", "NA"))
d0 <- d0[d0$Study == "Brain Lower Grade Glioma", ]
d <- data.frame(patient = d0$patient, Gender = d0$Gender, OS = d0$Survival..months.,
                dead = d0$Vital.status..1.dead., IDH = d0$IDH.status, codel = d0$X1p.19q.codeletion,
                ATRX = d0$ATRX.status, stringsAsFactors = FALSE)
write.csv(d, file.path(OUT, "lgg_analysis_table.csv"), row.names = FALSE)
## factor levels: IDH reference = "WT" (so HR = Mutant vs WT); codel ref = "non-codel"; ATRX ref = "WT"
d$IDH <- factor(d$IDH, levels = c("WT", "Mutant"))
d$codel <- factor(d$codel, levels = c("non-codel", "codel"))
d$ATRX <- factor(d$ATRX, levels = c("WT", "Mutant"))
d$Gender <- factor(d$Gender)

## 1. KM median by IDH
dk <- d[complete.cases(d[, c("OS", "dead", "IDH")]), ]
km <- survfit(Surv(OS, dead) ~ IDH, data = dk)   # defaults: conf.type="log", conf.int=0.95
tab <- summary(km)$table
write.csv(data.frame(stratum = rownames(tab), tab, check.names = FALSE), file.path(OUT, "km_median_by_IDH.csv"), row.names = FALSE)
s <- summary(km, censored = TRUE)
write.csv(data.frame(strata = s$strata, time = s$time, n.risk = s$n.risk, n.event = s$n.event, n.censor = s$n.censor,
                     surv = s$surv, std.err = s$std.err, lower = s$lower, upper = s$upper),
          file.path(OUT, "km_curve_by_IDH.csv"), row.names = FALSE)

## 2. log-rank tests
lr <- list()
for (v in c("IDH", "codel", "ATRX")) {
  dv <- d[complete.cases(d[, c("OS", "dead", v)]), ]
  sd <- survdiff(as.formula(paste("Surv(OS, dead) ~", v)), data = dv)  # rho = 0 (log-rank)
  df <- length(sd$n) - 1
  lr[[v]] <- data.frame(variable = v, n = nrow(dv), events = sum(dv$dead),
                        group = names(sd$n), group_n = as.numeric(sd$n), obs = sd$obs, exp = sd$exp,
                        chisq = sd$chisq, df = df, p = pchisq(sd$chisq, df, lower.tail = FALSE))
}
write.csv(do.call(rbind, lr), file.path(OUT, "logrank.csv"), row.names = FALSE)

## 3. Cox with strata(Gender)
dc <- d[complete.cases(d[, c("OS", "dead", "IDH", "Gender")]), ]
cf <- coxph(Surv(OS, dead) ~ IDH + strata(Gender), data = dc)  # ties = "efron" (default)
sm <- summary(cf)
write.csv(data.frame(term = rownames(sm$coefficients), sm$coefficients, lower95 = sm$conf.int[, "lower .95"],
                     upper95 = sm$conf.int[, "upper .95"], check.names = FALSE),
          file.path(OUT, "cox_IDH_strataGender_coef.csv"), row.names = FALSE)
write.csv(data.frame(n = cf$n, nevent = cf$nevent, loglik_null = cf$loglik[1], loglik_model = cf$loglik[2],
                     lrt_chisq = unname(sm$logtest["test"]), lrt_df = unname(sm$logtest["df"]), lrt_p = unname(sm$logtest["pvalue"]),
                     wald_chisq = unname(sm$waldtest["test"]), wald_p = unname(sm$waldtest["pvalue"]),
                     score_chisq = unname(sm$sctest["test"]), score_p = unname(sm$sctest["pvalue"]),
                     concordance = unname(sm$concordance[1]), ties = cf$method),
          file.path(OUT, "cox_IDH_strataGender_tests.csv"), row.names = FALSE)

## 4. contingency tests
ct <- list(); tabs <- list()
for (v in c("IDH", "codel", "ATRX")) {
  dv <- d[complete.cases(d[, c("Gender", v)]), ]
  tb <- table(Gender = droplevels(dv$Gender), droplevels(dv[[v]]))
  tabs[[v]] <- tb
  c1 <- suppressWarnings(chisq.test(tb))                  # correct = TRUE (Yates) default for 2x2
  c0 <- suppressWarnings(chisq.test(tb, correct = FALSE))
  ft <- fisher.test(tb)
  ct[[v]] <- data.frame(variable = v, n = sum(tb),
                        table = paste(sprintf("%s/%s=%d", rep(rownames(tb), ncol(tb)), rep(colnames(tb), each = nrow(tb)), as.vector(tb)), collapse = ";"),
                        chisq_yates = unname(c1$statistic), p_yates = c1$p.value,
                        chisq_noyates = unname(c0$statistic), p_noyates = c0$p.value, df = unname(c0$parameter),
                        fisher_p = ft$p.value, fisher_or = unname(ft$estimate), fisher_ci_lo = ft$conf.int[1], fisher_ci_hi = ft$conf.int[2])
}
write.csv(do.call(rbind, ct), file.path(OUT, "gender_contingency_tests.csv"), row.names = FALSE)
cat("done\n")
